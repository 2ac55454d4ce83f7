//! The Einsum rule against central finite differences (see `fd_harness`
//! for the tolerance), on the forms exporters write, and its refusal of a
//! diagonal.

use crate::common::Lcg;
use crate::fd_harness::{check_op, one_node, rand, In};
use wdq_ir::op::EinsumAttrs;
use wdq_ir::Op;

#[test]
fn einsum_forms() {
    let mut rng = Lcg(92);
    let cases: &[(&str, &[&[usize]])] = &[
        ("bij,bjk->bik", &[&[2, 3, 4], &[2, 4, 2]]),
        ("bhqd,bhkd->bhqk", &[&[1, 2, 3, 4], &[1, 2, 2, 4]]),
        ("bhqk,bhkd->bhqd", &[&[1, 2, 3, 2], &[1, 2, 2, 4]]),
        ("ij->ji", &[&[3, 4]]),
        ("bij->bj", &[&[2, 3, 4]]),
        ("ij->", &[&[3, 4]]),
        ("bi,bj->bij", &[&[2, 3], &[2, 4]]),
        ("bij,bk->bik", &[&[2, 3, 4], &[2, 5]]),
        ("...ij,...jk->...ik", &[&[2, 3, 4], &[2, 4, 2]]),
        ("ij,jk", &[&[3, 4], &[4, 2]]),
    ];
    let mut worst = 0.0f64;
    for (eq, shapes) in cases {
        let inputs: Vec<In> = shapes.iter().map(|s| rand(&mut rng, s)).collect();
        let op = Op::Einsum(EinsumAttrs {
            equation: Some(eq.to_string()),
        });
        worst = worst.max(check_op(&format!("Einsum {eq}"), op, 13, &inputs));
    }
    println!("Einsum: worst relative error {worst:.2e}");
}

#[test]
fn einsum_refuses_a_diagonal_naming_the_node() {
    let mut rng = Lcg(93);
    let op = Op::Einsum(EinsumAttrs {
        equation: Some("ii->i".into()),
    });
    let (model, _) = one_node(op, 13, &[rand(&mut rng, &[3, 3])], 1);
    let Err(e) = wdq_autodiff::gradient_graph(&model, &["in0"]) else {
        panic!("a diagonal has no rule");
    };
    let e = e.to_string();
    assert!(
        e.contains("op") && e.contains("Einsum") && e.contains("ii->i"),
        "{e}"
    );
}

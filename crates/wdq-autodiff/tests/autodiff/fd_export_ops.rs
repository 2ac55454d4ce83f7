//! The gradient rules of the ops real exporters write (issue 9): the
//! activations Elu, Selu, Celu, Softplus, Softsign, Shrink and Sign,
//! variadic Sum / Mean / Max / Min (ties shared), Mod, LRN, Instance- and
//! GroupNormalization (both scale layouts), ReduceMax / ReduceMin /
//! ReduceL2, linear Resize, Clip with bounds computed from a weight, and the Gelu that
//! exporters write as `x * 0.5 * (1 + Erf(x / sqrt 2))`, against central
//! finite differences (`fd_harness`). Each test prints its worst error.

use crate::common::{fixture, Lcg};
use crate::fd_harness::{away, check, check_op, distinct, ints, rand, scalar_const, In};
use ndarray::ArrayD;
use wdq_exec::TensorValue;
use wdq_ir::op::{
    ActivationAttrs, ClipAttrs, GroupNormAttrs, InstanceNormAttrs, LrnAttrs, ModAttrs, ReduceAttrs,
    ResizeAttrs, SeluAttrs, ShrinkAttrs,
};
use wdq_ir::{Op, Tensor};

fn report(what: &str, worst: f64) {
    println!("fd {what:<48} worst relative error {worst:.2e}");
}

#[test]
fn exporter_activations_away_from_kinks() {
    let mut rng = Lcg(31);
    let alpha = |a: f32| ActivationAttrs {
        alpha: Some(a),
        ..ActivationAttrs::default()
    };
    let cases: Vec<(Op, i64, Vec<f32>, f32)> = vec![
        (Op::Elu(ActivationAttrs::default()), 6, vec![0.0], 2.0),
        (Op::Elu(alpha(0.5)), 6, vec![0.0], 2.0),
        (Op::Selu(SeluAttrs::default()), 6, vec![0.0], 2.0),
        (
            Op::Selu(SeluAttrs {
                alpha: Some(2.0),
                gamma: Some(0.5),
            }),
            6,
            vec![0.0],
            2.0,
        ),
        (Op::Celu(alpha(2.0)), 12, vec![0.0], 3.0),
        (Op::Softplus, 13, vec![], 6.0),
        (Op::Softsign, 13, vec![], 3.0),
        (
            Op::Shrink(ShrinkAttrs {
                bias: Some(0.25),
                lambd: Some(0.5),
            }),
            9,
            vec![-0.5, 0.5],
            2.0,
        ),
        (Op::Sign, 13, vec![0.0], 2.0),
    ];
    for (op, opset, kinks, scale) in cases {
        let x = away(&mut rng, &[2, 3, 4], scale, &kinks, 0.05);
        let what = format!("{} {:?}", op.op_type(), op.attrs());
        report(&what, check_op(&what, op, opset, &[x]));
    }
}

#[test]
fn variadic_sum_mean_max_min() {
    let mut rng = Lcg(32);
    let shapes = [vec![2, 3, 4], vec![3, 1], vec![4]];
    for op in [Op::Sum, Op::Mean] {
        let ins: Vec<In> = shapes.iter().map(|s| rand(&mut rng, s)).collect();
        let what = format!("{} of 3, broadcast", op.op_type());
        report(&what, check_op(&what, op.clone(), 13, &ins));
        let what = format!("{} of 1", op.op_type());
        report(&what, check_op(&what, op, 13, &[rand(&mut rng, &[2, 3])]));
    }
    for op in [Op::Max, Op::Min] {
        // Three grids offset by a third of their spacing: no ties.
        let ins: Vec<In> = shapes
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let In::Wrt(s, v) = distinct(&mut rng, s, 0.1) else {
                    unreachable!()
                };
                In::Wrt(s, v.iter().map(|x| x + 0.033 * k as f32).collect())
            })
            .collect();
        let what = format!("{} of 3, broadcast", op.op_type());
        report(&what, check_op(&what, op, 13, &ins));
    }
}

/// Max of `a` and a constant equal to `a` on half the elements: the
/// gradient at a tie is shared equally (the mean of the one-sided
/// derivatives, 1/2 for each operand), elsewhere it is the winner's.
#[test]
fn max_ties_share_the_gradient_equally() {
    let a: Vec<f32> = (0..8).map(|i| i as f32 * 0.25 - 1.0).collect();
    let b: Vec<f32> = a
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % 2 == 0 { v } else { v - 0.5 })
        .collect();
    let inputs = [
        In::Wrt(vec![8], a.clone()),
        In::Const(Tensor::from_f32(vec![8], b)),
    ];
    let (model, feeds) = crate::fd_harness::one_node(Op::Max, 13, &inputs, 1);
    let gg = wdq_autodiff::gradient_graph(&model, &["in0"]).unwrap();
    let plan = wdq_exec::plan::Plan::new(&gg.model).unwrap();
    let seed = TensorValue::F32(ArrayD::from_shape_vec(vec![8], vec![1.0f32; 8]).unwrap());
    let mut args: Vec<(&str, TensorValue)> =
        feeds.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    args.push((gg.seed_input.as_str(), seed));
    let out = plan.run(&args).unwrap();
    let da: Vec<f32> = out[1].as_f32().unwrap().iter().copied().collect();
    let want: Vec<f32> = (0..8).map(|i| if i % 2 == 0 { 0.5 } else { 1.0 }).collect();
    assert_eq!(da, want);
}

#[test]
fn mod_fmod_away_from_jumps() {
    let mut rng = Lcg(33);
    // a = b * (k + f) with f in [0.2, 0.8]: a / b stays 0.2 away from the
    // integers, so the quotient is constant under the finite-difference step.
    let b: Vec<f32> = (0..4).map(|_| 1.1 + 0.3 * rng.unit().abs()).collect();
    let a: Vec<f32> = (0..12)
        .map(|i| {
            let k = (i % 7) as f32 - 3.0;
            b[i % 4] * (k + 0.5 + 0.3 * rng.unit())
        })
        .collect();
    let ins = [In::Wrt(vec![3, 4], a), In::Wrt(vec![4], b)];
    let op = Op::Mod(ModAttrs { fmod: Some(1) });
    report(
        "Mod fmod=1 [3,4] % [4]",
        check_op("Mod fmod=1", op, 13, &ins),
    );
}

#[test]
fn lrn_and_group_norms() {
    let mut rng = Lcg(34);
    for (size, shape) in [
        (5i64, vec![2, 6, 2, 2]),
        (3, vec![1, 4, 3]),
        (2, vec![1, 5, 2]),
    ] {
        let attrs = LrnAttrs {
            alpha: Some(0.5),
            beta: Some(0.75),
            bias: Some(1.0),
            size: Some(size),
        };
        let x = rand(&mut rng, &shape);
        let what = format!("LRN size {size} {shape:?}");
        report(&what, check_op(&what, Op::LRN(attrs), 13, &[x]));
    }
    let ins = [
        rand(&mut rng, &[2, 3, 4]),
        rand(&mut rng, &[3]),
        rand(&mut rng, &[3]),
    ];
    let op = Op::InstanceNormalization(InstanceNormAttrs {
        epsilon: Some(1e-3),
    });
    report(
        "InstanceNormalization",
        check_op("InstanceNorm", op, 13, &ins),
    );
    for (opset, affine) in [(18, 2usize), (21, 4)] {
        let ins = [
            rand(&mut rng, &[2, 4, 3]),
            rand(&mut rng, &[affine]),
            rand(&mut rng, &[affine]),
        ];
        let op = Op::GroupNormalization(GroupNormAttrs {
            epsilon: Some(1e-3),
            num_groups: Some(2),
            stash_type: None,
        });
        let what = format!("GroupNormalization opset {opset} scale [{affine}]");
        report(&what, check_op(&what, op, opset, &ins));
    }
}

#[test]
fn reduce_max_min_l2() {
    let mut rng = Lcg(35);
    for keep in [0, 1] {
        for axes in [Some(vec![1i64, -1]), None] {
            let attrs = ReduceAttrs {
                keepdims: Some(keep),
                axes: None,
                noop_with_empty_axes: None,
            };
            let axes_in = || axes.as_ref().map_or(In::Absent, |a| ints(a));
            let what = format!("keepdims {keep} axes {axes:?}");
            for op in [Op::ReduceMax(attrs.clone()), Op::ReduceMin(attrs.clone())] {
                let x = distinct(&mut rng, &[2, 3, 4], 0.1);
                let name = format!("{} {what}", op.op_type());
                report(&name, check_op(&name, op, 18, &[x, axes_in()]));
            }
            let x = rand(&mut rng, &[2, 3, 4]);
            let name = format!("ReduceL2 {what}");
            report(
                &name,
                check_op(&name, Op::ReduceL2(attrs), 18, &[x, axes_in()]),
            );
        }
    }
}

#[test]
fn resize_linear() {
    let mut rng = Lcg(38);
    let modes = [
        "half_pixel",
        "align_corners",
        "asymmetric",
        "pytorch_half_pixel",
    ];
    let scales = [vec![1.0f32, 1.0, 2.0, 1.5], vec![1.0, 1.0, 0.5, 0.75]];
    for mode in modes {
        for s in &scales {
            let attrs = ResizeAttrs {
                mode: Some("linear".into()),
                coordinate_transformation_mode: Some(mode.into()),
                ..ResizeAttrs::default()
            };
            let x = rand(&mut rng, &[1, 2, 4, 4]);
            let scales = In::Const(Tensor::from_f32(vec![4], s.clone()));
            let what = format!("Resize linear {mode} scales {s:?}");
            report(
                &what,
                check_op(&what, Op::Resize(attrs), 13, &[x, In::Absent, scales]),
            );
        }
    }
}

/// Clip whose bounds are computed (here: a weight and its negation), as
/// exporters write a clamp with tensor bounds: the data and the bound both
/// get gradients (the bound where it is the result).
#[test]
fn clip_with_computed_bounds() {
    let mut rng = Lcg(36);
    let x = away(&mut rng, &[2, 5], 1.0, &[-0.3, 0.4], 0.05);
    let ins = [x, scalar_const(-0.3), scalar_const(0.4)];
    let what = "Clip opset 13 bounds from constants";
    report(
        what,
        check_op(what, Op::Clip(ClipAttrs::default()), 13, &ins),
    );
    let x = away(&mut rng, &[2, 5], 1.0, &[-0.3, 0.4], 0.05);
    let ins = [x, In::Wrt(vec![], vec![-0.3]), In::Wrt(vec![], vec![0.4])];
    let what = "Clip opset 13 bounds as differentiated inputs";
    report(
        what,
        check_op(what, Op::Clip(ClipAttrs::default()), 13, &ins),
    );
}

/// The Erf-based Gelu decomposition of pre-opset-20 exports trains: its
/// gradient (through Div, Erf, Add and Mul) matches finite differences.
#[test]
fn gelu_erf_decomposition_trains() {
    let model = wdq_onnx::load_model(&fixture("ops/gelu_erf_decomposed.onnx")).unwrap();
    let mut rng = Lcg(37);
    let data: Vec<f32> = rng.vec(48).iter().map(|v| v * 3.0).collect();
    let feeds = vec![(
        "x".to_string(),
        TensorValue::F32(ArrayD::from_shape_vec(vec![2, 3, 8], data).unwrap()),
    )];
    let worst = check(
        "Gelu as x * 0.5 * (1 + Erf(x / sqrt 2))",
        &model,
        &feeds,
        1e-2,
    );
    report("Gelu Erf decomposition", worst);
}

//! The trained digits classifier: accuracy of the lowered models on the
//! validation split, and a snapshot of the lowered graph.

use crate::common::{
    argmax, at_opset_21, digits_val, fixture, load, lower_with, mixed_plan, plan_with, read_labels,
    run, summary,
};
use wdq_exec::TensorValue;
use wdq_lower::{Int4Storage, LowerOptions};

fn inputs(n: Option<usize>) -> Vec<(String, TensorValue)> {
    vec![("input".to_string(), TensorValue::F32(digits_val(n)))]
}

fn agreement(a: &[usize], b: &[usize]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

#[test]
fn eight_bit_digits_agree_with_float() {
    let model = load("digits/digits_cnn.onnx");
    let labels = read_labels(&fixture("digits/val.npz"));
    let float = argmax(&run(&model, &inputs(None))[0]);
    let options = LowerOptions {
        int4_storage: Int4Storage::Int8,
        ..LowerOptions::default()
    };
    let all8 = lower_with(
        &model,
        &plan_with(&model, |_| 8),
        &options,
        &inputs(Some(64)),
    );
    let q8 = argmax(&run(&all8.model, &inputs(None))[0]);
    let mixed = lower_with(&model, &mixed_plan(&model), &options, &inputs(Some(64)));
    let q48 = argmax(&run(&mixed.model, &inputs(None))[0]);
    let top1 = |p: &[usize]| {
        p.iter()
            .zip(&labels)
            .filter(|(a, b)| **a as i64 == **b)
            .count() as f64
            / labels.len() as f64
    };
    eprintln!(
        "digits val: float top-1 {:.4}, 8-bit {:.4} (agreement {:.4}), mixed 4/8 {:.4} (agreement {:.4}); bytes {} -> {} (8-bit), {} (mixed, int8 containers)",
        top1(&float),
        top1(&q8),
        agreement(&q8, &float),
        top1(&q48),
        agreement(&q48, &float),
        all8.weight_bytes_before,
        all8.weight_bytes_after,
        mixed.weight_bytes_after
    );
    assert!(agreement(&q8, &float) >= 0.97);
    assert!(agreement(&q48, &float) >= 0.85);
    assert!(all8.weight_bytes_after < all8.weight_bytes_before);
}

#[test]
fn digits_int4_packed_snapshot_and_int8_containers_match() {
    let model = load("digits/digits_cnn.onnx");
    let model21 = at_opset_21(&model);
    let calibration = inputs(Some(64));
    let packed = lower_with(
        &model21,
        &mixed_plan(&model21),
        &LowerOptions::default(),
        &calibration,
    );
    let container = LowerOptions {
        int4_storage: Int4Storage::Int8,
        ..LowerOptions::default()
    };
    let in_i8 = lower_with(&model, &mixed_plan(&model), &container, &calibration);
    assert_eq!(
        run(&packed.model, &inputs(None)),
        run(&in_i8.model, &inputs(None))
    );
    assert!(packed.weight_bytes_after < in_i8.weight_bytes_after);
    insta::assert_snapshot!(summary(&packed));
}

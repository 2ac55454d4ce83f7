//! Lowering under a target's profile and checking the result: the digits
//! fixture lowered the TensorRT way passes the TensorRT check; the full
//! weight range uses the lowest code, which the TensorRT profile refuses
//! and the onnxruntime one takes.

use crate::common::{digits_val, load, lower_with, plan_with};
use wdq_exec::TensorValue;
use wdq_lower::{check, ActivationType, BiasMode, Int4Storage, LowerOptions, Target, WeightRange};

fn tensorrt_like(range: WeightRange) -> LowerOptions {
    LowerOptions {
        activations: ActivationType::I8,
        symmetric_activations: true,
        bias: BiasMode::Float,
        int4_storage: Int4Storage::Int8,
        weight_range: range,
        ..LowerOptions::default()
    }
}

#[test]
fn weight_range_and_symmetric_activations_meet_or_break_the_profiles() {
    let model = load("digits/digits_cnn.onnx");
    let inputs = vec![("input".to_string(), TensorValue::F32(digits_val(Some(64))))];
    let plan = plan_with(&model, |_| 8);
    let sym = lower_with(
        &model,
        &plan,
        &tensorrt_like(WeightRange::Symmetric),
        &inputs,
    );
    let report = check(&sym.model, Target::TensorRt.profile());
    assert_eq!(report.quantized_layers, 5);
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    let full = lower_with(&model, &plan, &tensorrt_like(WeightRange::Full), &inputs);
    let report = check(&full.model, Target::TensorRt.profile());
    let rules: Vec<&str> = report.violations.iter().map(|v| v.rule).collect();
    assert!(
        !rules.is_empty() && rules.iter().all(|r| *r == "weight-range"),
        "{rules:?}"
    );
    assert!(report.violations[0].detail.contains("code -128"));
    let ort = check(&full.model, Target::OnnxRuntime.profile());
    assert!(ort.violations.is_empty(), "{:?}", ort.violations);
    // The asymmetric default breaks TensorRT's activation rules.
    let asym = lower_with(&model, &plan, &LowerOptions::default(), &inputs);
    let report = check(&asym.model, Target::TensorRt.profile());
    assert!(report
        .violations
        .iter()
        .any(|v| v.rule == "activation-type"));
    assert!(report.violations.iter().any(|v| v.rule == "bias-form"));
}

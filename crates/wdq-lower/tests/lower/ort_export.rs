//! Writes lowered digits models, with wdq-exec's predictions, for the
//! onnxruntime check in `crates/wdq-lower/tests/ort_check.py`. Ignored by
//! default; run with
//! `WDQ_LOWER_OUT=<dir> cargo test -p wdq-lower --test lower -- --ignored write_models_for_onnxruntime`.

use crate::common::{
    argmax, at_opset_21, digits_val, load, lower_with, mixed_plan, model_inputs, plan_with, run,
};
use ndarray::Array1;
use wdq_exec::TensorValue;
use wdq_lower::{Int4Storage, LowerOptions};

#[test]
#[ignore = "writes files for the onnxruntime check (tests/ort_check.py)"]
fn write_models_for_onnxruntime() {
    let dir = std::env::var_os("WDQ_LOWER_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("wdq-lower-ort"));
    std::fs::create_dir_all(&dir).unwrap();
    let model = load("digits/digits_cnn.onnx");
    let calibration = vec![("input".to_string(), TensorValue::F32(digits_val(Some(64))))];
    let val = vec![("input".to_string(), TensorValue::F32(digits_val(None)))];
    let int8 = LowerOptions {
        int4_storage: Int4Storage::Int8,
        ..LowerOptions::default()
    };
    let model21 = at_opset_21(&model);
    let cases = [
        (
            "digits_int8",
            lower_with(&model, &plan_with(&model, |_| 8), &int8, &calibration),
        ),
        (
            "digits_mixed_int8_container",
            lower_with(&model, &mixed_plan(&model), &int8, &calibration),
        ),
        (
            "digits_mixed_int4",
            lower_with(
                &model21,
                &mixed_plan(&model21),
                &LowerOptions::default(),
                &calibration,
            ),
        ),
    ];
    for (name, lowered) in cases {
        wdq_onnx::save_model(&lowered.model, &dir.join(format!("{name}.onnx"))).unwrap();
        let logits = run(&lowered.model, &val).remove(0);
        let predictions: Array1<i64> = argmax(&logits).into_iter().map(|c| c as i64).collect();
        ndarray_npy::write_npy(dir.join(format!("{name}.exec_argmax.npy")), &predictions).unwrap();
        ndarray_npy::write_npy(dir.join(format!("{name}.exec_logits.npy")), &logits).unwrap();
        eprintln!(
            "{name}: bytes {} -> {}",
            lowered.weight_bytes_before, lowered.weight_bytes_after
        );
    }
    // The other fixture models: all 8-bit at their opset, and mixed 4/8 with
    // INT4 at opset 21; wdq-exec's first output on the fixture inputs.
    for name in ["lenet", "mobilenet_se", "resnet_bn", "torch_style"] {
        let model = load(&format!("models/{name}.onnx"));
        let inputs = model_inputs(name);
        let model21 = at_opset_21(&model);
        let cases = [
            (
                "int8",
                lower_with(&model, &plan_with(&model, |_| 8), &int8, &inputs),
            ),
            (
                "mixed_int4",
                lower_with(
                    &model21,
                    &mixed_plan(&model21),
                    &LowerOptions::default(),
                    &inputs,
                ),
            ),
        ];
        for (variant, lowered) in cases {
            let stem = format!("model__{name}__{variant}");
            wdq_onnx::save_model(&lowered.model, &dir.join(format!("{stem}.onnx"))).unwrap();
            let output = run(&lowered.model, &inputs).remove(0);
            ndarray_npy::write_npy(dir.join(format!("{stem}.exec_output.npy")), &output).unwrap();
        }
    }
    eprintln!("wrote {}", dir.display());
}

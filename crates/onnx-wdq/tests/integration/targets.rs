//! `--target` and `check`: every profile's output of the digits fixture
//! passes its own check (and onnxruntime's accuracy is the report's in the
//! conformance scripts), outputs break the profiles they were not made for
//! with violations naming nodes, layers a target cannot take at the low bit
//! width are reported as not candidates, and a choice the profile does not
//! take is refused while parsing.

use super::common::{fixture, run};
use std::path::{Path, PathBuf};
use std::process::Output;

const TARGETS: [&str; 5] = ["onnxruntime", "qnn", "openvino", "tensorrt", "vitis"];

/// The main command on the digits fixture for `target`; the output path and
/// the JSON report.
fn quantize(dir: &Path, target: &str, extra: &[&str]) -> (Output, PathBuf, serde_json::Value) {
    let out = dir.join(format!("{target}.onnx"));
    let report = dir.join(format!("{target}.json"));
    let model = fixture("fixtures/digits/digits_cnn.onnx");
    let (train, val) = (
        fixture("fixtures/digits/train.npz"),
        fixture("fixtures/digits/val.npz"),
    );
    let mut args = vec![
        model.as_str(),
        "-o",
        out.to_str().unwrap(),
        "--train",
        &train,
        "--val",
        &val,
        "--report",
        report.to_str().unwrap(),
        "--cycles",
        "1",
        "--target",
        target,
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    let json = std::fs::read(&report)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (o, out, json)
}

fn check(model: &Path, target: &str) -> Output {
    run(&["check", model.to_str().unwrap(), "--target", target])
}

#[test]
fn every_profile_output_passes_its_check_and_fails_the_stricter_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for target in TARGETS {
        let (o, path, report) = quantize(dir.path(), target, &[]);
        assert!(
            o.status.success(),
            "{target}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(report["target"], target);
        let c = check(&path, target);
        let text = String::from_utf8_lossy(&c.stdout);
        assert_eq!(c.status.code(), Some(0), "{target}: {text}");
        assert!(
            text.contains(&format!("ok for {target} (5 quantized layers)")),
            "{text}"
        );
        outputs.push((target, path, report));
    }
    // 8-bit-only targets keep every layer at 8 bits and say why.
    for (target, _, report) in &outputs[3..] {
        let refused = report["not_candidates"].as_array().unwrap();
        assert_eq!(refused.len(), 5, "{target}");
        assert_eq!(report["low_bit_layers"], 0, "{target}");
        assert!(refused[0][1]
            .as_str()
            .unwrap()
            .starts_with(&format!("{target} takes no 4-bit")));
    }
    assert!(outputs[0].2["not_candidates"]
        .as_array()
        .unwrap()
        .is_empty());
    // The onnxruntime output (uint8 asymmetric activations, float scales,
    // INT4) is not a TensorRT or Vitis model; each violation names a node.
    for strict in ["tensorrt", "vitis"] {
        let c = check(&outputs[0].1, strict);
        let text = String::from_utf8_lossy(&c.stdout);
        assert_eq!(c.status.code(), Some(1), "{text}");
        assert!(
            text.contains("input_QuantizeLinear: [activation-type]"),
            "{text}"
        );
        assert!(text.contains("conv1: [weight-bits] "), "{text}");
    }
    let c = check(&outputs[4].1, "onnxruntime");
    assert_eq!(
        c.status.code(),
        Some(0),
        "pow2 int8 per-tensor is valid onnxruntime input"
    );
}

#[test]
fn a_model_with_batchnorm_or_no_quantization_fails_the_check() {
    let c = check(
        Path::new(&fixture("fixtures/models/resnet_bn.onnx")),
        "onnxruntime",
    );
    let text = String::from_utf8_lossy(&c.stdout);
    assert_eq!(c.status.code(), Some(1));
    assert!(text.contains("stem.bn: [batchnorm-folded]"), "{text}");
    assert!(text.contains("(model): [quantized]"), "{text}");
}

#[test]
fn a_choice_the_target_does_not_take_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (o, _, _) = quantize(dir.path(), "vitis", &["--scale", "float"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--scale float: the vitis target takes pow2"),
        "{err}"
    );
    let (o, _, _) = quantize(dir.path(), "tensorrt", &["--weight-range", "full"]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("--weight-range full: the tensorrt target takes symmetric"));
}

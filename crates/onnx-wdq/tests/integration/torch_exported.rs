//! Real PyTorch-trained CNNs exported by torch.onnx (opset 13 and 17):
//! `inspect` lists exactly their weighted layers, and `eval` reproduces
//! onnxruntime's predictions sample for sample (compared through the
//! sha256 of the int64 argmax array the fixture generator recorded).

use super::common::{root, run};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn torch_dir() -> PathBuf {
    root().join("fixtures/torch")
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn exported_models_inspect_and_eval_like_onnxruntime() {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(torch_dir().join("expected.json")).unwrap()).unwrap();
    for (name, file) in [
        ("mnist_cnn", "mnist_cnn.onnx"),
        ("mnist_cnn_opset17", "mnist_cnn_opset17.onnx"),
    ] {
        let want = &expected[name];
        let model = torch_dir().join(file).to_string_lossy().into_owned();
        let summary = run_json(&["inspect", &model, "--json"]);
        let layers: Vec<&str> = summary["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["node"].as_str().unwrap())
            .collect();
        let want_layers: Vec<&str> = want["weighted_layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(layers, want_layers, "{name}");

        let data = torch_dir()
            .join("mnist_val.npz")
            .to_string_lossy()
            .into_owned();
        let eval = run_json(&["eval", &model, "--data", &data, "--json"]);
        let predictions: Vec<i64> = eval["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_i64().unwrap())
            .collect();
        let bytes: Vec<u8> = predictions.iter().flat_map(|p| p.to_le_bytes()).collect();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            digest,
            want["val_predictions_sha256"].as_str().unwrap(),
            "{name}: predictions differ"
        );
        let top1 = eval["top1_percent"].as_f64().unwrap();
        assert!(
            (top1 - 100.0 * want["val_top1"].as_f64().unwrap()).abs() < 1e-6,
            "{name}: {top1}"
        );
    }
}

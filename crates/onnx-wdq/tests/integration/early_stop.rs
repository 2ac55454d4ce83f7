//! Stopping a candidate's evaluation once its answer is certain changes
//! nothing but the work: with and without `--full-eval` the main command
//! makes the same decisions and writes the same bytes. Each case is chosen
//! so that evaluations do stop (checked), on the digits fixture and on a
//! real PyTorch export (`fixtures/torch`).

use super::common::{fixture, run};
use serde_json::Value;
use std::path::Path;

/// Runs the main command with `args`, early stop on or off; returns the
/// written bytes and the JSON report.
fn quantize(dir: &Path, args: &[&str], full: bool) -> (Vec<u8>, Value) {
    let tag = if full { "full" } else { "early" };
    let out = dir.join(format!("{tag}.onnx"));
    let report = dir.join(format!("{tag}.json"));
    let (out_s, report_s) = (out.to_string_lossy(), report.to_string_lossy());
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", &out_s, "--report", &report_s]);
    if full {
        all.push("--full-eval");
    }
    let o = run(&all);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    (std::fs::read(&out).unwrap(), json)
}

/// The report's decisions and the written model's figures (not timings,
/// not the figures of candidates that stopped early).
fn decisions(r: &Value) -> Value {
    let candidates: Vec<Value> = r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!([c["low_bit_layers"], c["layers"], c["within_threshold"]]))
        .collect();
    let layers: Vec<Value> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| serde_json::json!([l["node"], l["bits"]]))
        .collect();
    serde_json::json!({
        "candidates": candidates,
        "layers": layers,
        "met": r["met_threshold"],
        "final": r["final_accuracy"],
        "final_loss": r["final_loss"],
        "final_interval": r["final_interval"],
        "fp32": r["fp32_accuracy"],
        "all_high": r["all_high_accuracy"],
        "reference": r["reference_accuracy"],
        "resolution": r["resolution"],
        "low_bit_layers": r["low_bit_layers"],
    })
}

/// Same bytes, same decisions; the early run stopped at least once and ran
/// fewer samples, the full one stopped never.
fn same_with_and_without(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (early_bytes, early) = quantize(dir.path(), args, false);
    let (full_bytes, full) = quantize(dir.path(), args, true);
    assert!(early_bytes == full_bytes, "{args:?}: written models differ");
    assert_eq!(decisions(&early), decisions(&full), "{args:?}");
    let stopped = |r: &Value| {
        r["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c["stopped_after"].is_null())
            .count()
    };
    assert!(stopped(&early) > 0, "{args:?}: no evaluation stopped early");
    assert_eq!(stopped(&full), 0, "{args:?}");
    let (we, wf) = (&early["search_work"], &full["search_work"]);
    assert_eq!(we["evaluations"], wf["evaluations"], "{args:?}");
    assert_eq!(we["full_samples"], wf["full_samples"], "{args:?}");
    assert_eq!(wf["samples"], wf["full_samples"], "{args:?}");
    assert!(
        we["samples"].as_u64() < wf["samples"].as_u64(),
        "{args:?}: {we} vs {wf}"
    );
    assert_eq!(
        (we["early_stop"].clone(), wf["early_stop"].clone()),
        (true.into(), false.into())
    );
}

#[test]
fn early_stop_keeps_the_digits_decisions_and_bytes() {
    let model = fixture("fixtures/digits/digits_cnn.onnx");
    let train = fixture("fixtures/digits/train.npz");
    let val = fixture("fixtures/digits/val.npz");
    let base = [model.as_str(), "--train", &train, "--val", &val];
    let cases: [&[&str]; 5] = [
        // top-1: rejects after the first batch, then a full accept chosen.
        &[
            "--low-bits",
            "3",
            "--threshold",
            "0.3",
            "--eval-batch-size",
            "64",
        ],
        &["--low-bits", "2", "--guard"],
        &[
            "--low-bits",
            "2",
            "--metric",
            "agreement",
            "--reference",
            "high",
            "--eval-batch-size",
            "100",
        ],
        &[
            "--low-bits",
            "2",
            "--metric",
            "sqnr",
            "--eval-batch-size",
            "64",
        ],
        &[
            "--low-bits",
            "2",
            "--metric",
            "cosine",
            "--threshold",
            "0.999",
            "--eval-batch-size",
            "64",
        ],
    ];
    for case in cases {
        let args: Vec<&str> = base.iter().copied().chain(case.iter().copied()).collect();
        same_with_and_without(&args);
    }
}

#[test]
fn early_stop_keeps_a_torch_exports_decisions_and_bytes() {
    let model = fixture("fixtures/torch/mnist_cnn.onnx");
    let train = fixture("fixtures/torch/mnist_train.npz");
    let val = fixture("fixtures/torch/mnist_val.npz");
    same_with_and_without(&[
        &model,
        "--train",
        &train,
        "--val",
        &val,
        "--cycles",
        "1",
        "--steps-per-cycle",
        "4",
        "--low-bits",
        "2",
        "--threshold",
        "0.5",
        "--eval-batch-size",
        "125",
    ]);
}

#[test]
fn full_eval_is_refused_with_an_evaluator_command() {
    // An external evaluator always runs in full: the option would be ignored.
    let o = run(&[
        &fixture("fixtures/digits/digits_cnn.onnx"),
        "--data",
        &fixture("fixtures/digits/val.npz"),
        "-o",
        "unused.onnx",
        "--eval-command",
        "echo 1 {model}",
        "--full-eval",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--full-eval") && err.contains("--eval-command"),
        "{err}"
    );
}

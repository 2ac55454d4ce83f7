//! The command-line contract: outputs, exit codes, error messages, atomic
//! writes and byte-identical results for the same inputs and seed.

use super::common::{fixture, root, run};
use std::path::{Path, PathBuf};
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn inspect_lists_the_weighted_layers() {
    let out = run(&["inspect", &fixture("fixtures/digits/digits_cnn.onnx")]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("inspect_digits", stdout(&out));
    // Weights through Identity and Constant nodes, as exporters write them.
    let out = run(&[
        "inspect",
        &fixture("fixtures/models/torch_style.onnx"),
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops: Vec<&str> = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["op"].as_str().unwrap())
        .collect();
    assert!(ops.contains(&"MatMul") && ops.contains(&"Conv"), "{ops:?}");
    // Already-quantized weights are found behind DequantizeLinear.
    let out = run(&[
        "inspect",
        &fixture("fixtures/models/qdq_int8.onnx"),
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["quantized"] == true));
    assert!(!json["layers"].as_array().unwrap().is_empty());
    // Weights computed by constant sub-graphs (ConstantOfShape; Constant ->
    // Cast -> Reshape -> Transpose) are folded at import and found.
    let out = run(&[
        "inspect",
        &fixture("fixtures/models/const_weights.onnx"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers: Vec<(&str, &str)> = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["node"].as_str().unwrap(), l["op"].as_str().unwrap()))
        .collect();
    assert_eq!(layers, [("fc1", "MatMul"), ("fc2", "Gemm")]);
}

#[test]
fn eval_reports_top1_of_the_bundled_classifier() {
    let out = run(&[
        "eval",
        &fixture("fixtures/digits/digits_cnn.onnx"),
        "--data",
        &fixture("fixtures/digits/val.npz"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // onnxruntime's figure, committed by the fixture generator.
    let expected: f64 =
        std::fs::read_to_string(root().join("fixtures/digits/expected_val_top1.txt"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    assert_eq!(json["correct"], 353);
    assert!((json["top1_percent"].as_f64().unwrap() - 100.0 * expected).abs() < 1e-3);
}

#[test]
fn bad_input_names_the_file_and_exits_1_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.onnx");
    let out_str = out_path.to_string_lossy().into_owned();

    let missing = run(&["inspect", "no/such/model.onnx"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no/such/model.onnx"),
        "{}",
        stderr(&missing)
    );

    let truncated = dir.path().join("truncated.onnx");
    let bytes = std::fs::read(root().join("fixtures/models/lenet.onnx")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["convert", &truncated.to_string_lossy(), "-o", &out_str]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("truncated.onnx"), "{}", stderr(&out));
    assert!(!out_path.exists());

    let data = dir.path().join("unkeyed.npz");
    let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    npz.add_array("a", &ndarray::Array2::<f32>::zeros((2, 64)))
        .unwrap();
    npz.add_array("b", &ndarray::Array2::<f32>::zeros((2, 64)))
        .unwrap();
    npz.finish().unwrap();
    let out = run(&[
        "eval",
        &fixture("fixtures/models/mlp.onnx"),
        "--data",
        &data.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains("unkeyed.npz") && message.contains("`input`"),
        "{message}"
    );
    std::fs::remove_file(&data).unwrap();

    let out = run(&[
        &fixture("fixtures/models/custom_op.onnx"),
        "-o",
        &out_str,
        "--data",
        &fixture("fixtures/digits/val.npz"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!out_path.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "temporary files left behind: {leftovers:?}"
    );

    let usage = run(&["eval"]);
    assert_eq!(usage.status.code(), Some(2));
}

fn quantize(dir: &Path, name: &str, extra: &[&str]) -> (Output, PathBuf, serde_json::Value) {
    let model = dir.join(format!("{name}.onnx"));
    let report = dir.join(format!("{name}.json"));
    let mut args = vec![
        fixture("fixtures/digits/digits_cnn.onnx"),
        "-o".into(),
        model.to_string_lossy().into_owned(),
        "--train".into(),
        fixture("fixtures/digits/train.npz"),
        "--val".into(),
        fixture("fixtures/digits/val.npz"),
        "--report".into(),
        report.to_string_lossy().into_owned(),
        "--cycles".into(),
        "2".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&refs);
    let json = std::fs::read(&report)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_default();
    (out, model, json)
}

#[test]
fn main_command_is_deterministic_and_its_report_matches_eval() {
    let dir = tempfile::tempdir().unwrap();
    let (first, model_a, report) = quantize(dir.path(), "a", &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let (_, model_b, _) = quantize(dir.path(), "b", &[]);
    assert_eq!(
        std::fs::read(&model_a).unwrap(),
        std::fs::read(&model_b).unwrap(),
        "same seed, different bytes"
    );
    assert!(report["met_threshold"].as_bool().unwrap());
    assert!(report["final_loss"].as_f64().unwrap() <= 1.0);
    assert_eq!(report["layers"].as_array().unwrap().len(), 5);
    assert!(report["sizes"]["weights_after"].as_u64() < report["sizes"]["weights_before"].as_u64());
    // The written model, run again, has the accuracy the report predicted.
    let out = run(&[
        "eval",
        &model_a.to_string_lossy(),
        "--data",
        &fixture("fixtures/digits/val.npz"),
        "--json",
    ]);
    let eval: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(eval["top1_percent"], report["final_accuracy"]);
}

/// A tied weight (the second user reads it through an Identity, as
/// PyTorch's legacy exporter writes it) is one quantization unit: inspect,
/// the report and the written model agree on it.
#[test]
fn a_tied_weight_is_one_unit_in_inspect_report_and_output() {
    let model = fixture("fixtures/models/tied_mlp.onnx");
    let out = run(&["inspect", &model, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes: Vec<(&str, &serde_json::Value)> = summary["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["node"].as_str().unwrap(), &l["tied"]))
        .collect();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert_eq!(nodes[0], ("fc1", &serde_json::json!(["fc2"])));
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("tied_wdq.onnx");
    let report_path = dir.path().join("tied.json");
    for low_bits in ["2", "4"] {
        let out = run(&[
            &model,
            "-o",
            &written.to_string_lossy(),
            "--data",
            &fixture("fixtures/models/tied_mlp.data.npz"),
            "--report",
            &report_path.to_string_lossy(),
            "--low-bits",
            low_bits,
            "--int4-storage",
            "int8",
            "--cycles",
            "2",
            "--lr",
            "0.05",
        ]);
        assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
        let rows = report["layers"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let q = wdq_onnx::load_model(&written).unwrap();
        // Every node of a row carries the row's bits: its weight's
        // DequantizeLinear reads codes that fit them.
        for row in rows {
            let bits = row["bits"].as_u64().unwrap() as i32;
            let mut nodes = vec![row["node"].as_str().unwrap()];
            if let Some(tied) = row["tied"].as_array() {
                nodes.extend(tied.iter().map(|t| t.as_str().unwrap()));
            }
            for node in nodes {
                let id = q
                    .graph
                    .live_nodes()
                    .find(|(_, n)| n.name == node)
                    .unwrap()
                    .0;
                let layer = wdq_ir::weighted_layers(&q.graph)
                    .into_iter()
                    .find(|l| l.node == id)
                    .unwrap();
                assert!(layer.dequantize.is_some(), "{node} was not quantized");
                let codes = layer.weight_tensor.to_f32_vec().unwrap();
                let max = codes.iter().fold(0f32, |m, c| m.max(c.abs()));
                let limit = (1 << (bits - 1)) as f32;
                assert!(max <= limit, "{node}: codes up to {max} at {bits} bits");
                assert!(
                    max >= limit / 2.0,
                    "{node}: codes up to {max} at {bits} bits"
                );
            }
        }
        assert_eq!(
            rows.iter().find(|r| r["node"] == "fc1").unwrap()["tied"],
            serde_json::json!(["fc2"])
        );
    }
}

#[test]
fn unmet_threshold_writes_the_all_high_model_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (out, model, report) = quantize(
        dir.path(),
        "strict",
        &["--threshold=-5", "--int4-storage", "int8"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(model.exists());
    assert_eq!(report["met_threshold"], false);
    assert_eq!(report["low_bit_layers"], 0);
    assert_eq!(report["high_bit_layers"], 5);
    assert!(stdout(&out).contains("no candidate met the threshold"));
}

#[test]
fn selection_strategies_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, report) = quantize(
        dir.path(),
        "count",
        &["--select", "count:2", "--skip-smallest"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["low_bit_layers"], 2);
    let ranked: Vec<&serde_json::Value> = report["layers"].as_array().unwrap().iter().collect();
    let smallest = ranked.iter().find(|l| l["rank"] == 1).unwrap();
    assert_eq!(
        smallest["bits"], 8,
        "--skip-smallest left the smallest layer at high bits"
    );
    let (out, _, report) = quantize(
        dir.path(),
        "halving",
        &["--select", "halving", "--min-candidates", "1"],
    );
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(3),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        report["candidates"][0]["low_bit_layers"], 2,
        "halving starts with the lower half"
    );
    // Bad enum values are usage errors (exit 2), found before any file is
    // read: the data file here exists, so only the value can fail.
    for (option, value) in [
        ("--select", "sideways"),
        ("--select", "count:many"),
        ("--calibration", "median"),
        ("--statistic", "median"),
    ] {
        let bad = run(&[
            &fixture("fixtures/digits/digits_cnn.onnx"),
            "-o",
            &dir.path().join("x.onnx").to_string_lossy(),
            "--data",
            &fixture("fixtures/digits/val.npz"),
            option,
            value,
        ]);
        assert_eq!(
            bad.status.code(),
            Some(2),
            "{option} {value}: {}",
            stderr(&bad)
        );
        assert!(stderr(&bad).contains(value), "{}", stderr(&bad));
    }
}

#[test]
fn an_exhausted_time_budget_keeps_the_best_found() {
    let dir = tempfile::tempdir().unwrap();
    let (out, model, report) = quantize(dir.path(), "budget", &["--time-budget", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(model.exists());
    assert_eq!(report["stopped_by_time_budget"], true);
    assert_eq!(
        report["low_bit_layers"], 0,
        "nothing was evaluated, so nothing went to low bits"
    );
    assert!(stdout(&out).contains("time budget ran out"));
}

/// `analyze` of the digits CNN on its training data.
fn analyze_digits(cycles: &str, lr: &str, extra: &[&str]) -> std::process::Output {
    let (model, data) = (
        fixture("fixtures/digits/digits_cnn.onnx"),
        fixture("fixtures/digits/train.npz"),
    );
    let mut args = vec![
        "analyze", &model, "--data", &data, "--cycles", cycles, "--lr", lr,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn analyze_ranks_layers_and_writes_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("drift.json");
    let snaps = dir.path().join("snaps");
    let out = analyze_digits(
        "3",
        "0.05",
        &[
            "--json",
            &json.to_string_lossy(),
            "--save-snapshots",
            &snaps.to_string_lossy(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let stats: Vec<f64> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["statistic"].as_f64().unwrap())
        .collect();
    assert_eq!(stats.len(), 5);
    assert!(
        stats.windows(2).all(|w| w[0] <= w[1]),
        "not sorted: {stats:?}"
    );
    for k in 1..=3 {
        assert!(snaps.join(format!("cycle_{k}.npz")).exists());
    }
}

#[test]
fn analyze_says_why_a_statistic_is_zero() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("drift.json");
    // An update of 1e-30 of a gradient rounds away next to any weight.
    let out = analyze_digits("1", "1e-30", &["--json", &json.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let zero = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["statistic"].as_f64() == Some(0.0))
        .count();
    assert!(zero > 0, "{report}");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains(&format!("{zero} of 5 layers have a zero statistic"))
            && text.contains("rounded away"),
        "{text}"
    );
}

/// `text` with every non-integer number rounded to 3 significant digits: snapshots pin
/// the analysis, not the last bits of a CPU's float kernels.
fn rounded(text: &str) -> String {
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        match token.parse::<f64>() {
            Ok(v) if token.contains(['.', 'e']) && v != 0.0 => {
                out.push_str(&format!("{v:.2e}"));
            }
            _ => out.push_str(token),
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || ".-+_".contains(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// The analysis and the plan of the README's run, pinned: the annotations
/// of the written model (every weighted node's statistic, rank, bits and
/// scales; the model's options and scores) and the JSON report without
/// its timings.
#[test]
fn digits_run_annotations_and_report_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("digits_wdq.onnx");
    let report = dir.path().join("report.json");
    let out = run(&[
        &fixture("fixtures/digits/digits_cnn.onnx"),
        "-o",
        &model.to_string_lossy(),
        "--train",
        &fixture("fixtures/digits/train.npz"),
        "--val",
        &fixture("fixtures/digits/val.npz"),
        "--report",
        &report.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = wdq_onnx::load_model(&model).unwrap();
    insta::assert_snapshot!(
        "digits_annotations",
        rounded(&onnx_wdq::annotate::dump(&written))
    );
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("seconds");
    // The file holds the annotations' full-precision text: its size is not
    // pinned, the weights' sizes are.
    let sizes = json["sizes"].as_object_mut().unwrap();
    sizes.remove("file_before");
    sizes.remove("file_after");
    for c in json["candidates"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("seconds");
    }
    let work = json["search_work"].as_object_mut().unwrap();
    work.remove("seconds");
    work.remove("seconds_saved");
    insta::assert_snapshot!(
        "digits_report",
        rounded(&serde_json::to_string_pretty(&json).unwrap())
    );
}

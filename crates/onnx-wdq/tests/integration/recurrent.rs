//! LSTM, GRU and RNN nodes are layers (`W` with `R` as companion, `B`
//! float), found, trained, searched and lowered; weights inside If
//! branches are listed with the reason they are not layers.
//!
//! `fixtures/models/recurrent_mix.onnx` (fixtures/gen/make_layer_kinds.py: a
//! bidirectional LSTM, a GRU, an RNN and a Gemm) comes with the layer count
//! of the `onnx` package (`recurrent_mix.layers.json`, the corpus's
//! independent count). The written model is checked with
//! `onnx.checker.check_model(full_check=True)` and run by onnxruntime when
//! `$WDQ_PYTHON` (default `python3`) imports both; the real-model corpus
//! (tests/corpus/run.py) does the same for openwakeword's hey_mycroft.

use super::common::{fixture, run};
use std::path::Path;
use std::process::{Command, Output};
use wdq_ir::{Graph, Op, ValueDef};

const MODEL: &str = "fixtures/models/recurrent_mix.onnx";
const DATA: &str = "fixtures/models/recurrent_mix.data.npz";
const RECURRENT: [&str; 3] = ["lstm", "gru", "rnn"];

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Runs the main command on the fixture into `dir`; (written model, report).
fn quantize(dir: &Path, extra: &[&str]) -> (std::path::PathBuf, serde_json::Value) {
    let (written, report) = (dir.join("q.onnx"), dir.join("r.json"));
    let (model, data) = (fixture(MODEL), fixture(DATA));
    let mut args = vec![
        model.as_str(),
        "-o",
        written.to_str().unwrap(),
        "--data",
        &data,
        "--cycles",
        "2",
        "--lr",
        "0.05",
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    (written, json(&report))
}

#[test]
fn inspect_counts_the_recurrent_layers_like_the_onnx_package() {
    let out = run(&["inspect", &fixture(MODEL), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = json(Path::new(&fixture(
        "fixtures/models/recurrent_mix.layers.json",
    )));
    let layers = summary["layers"].as_array().unwrap();
    assert_eq!(layers.len() as u64, want["layers"].as_u64().unwrap());
    let mut weights: Vec<&str> = layers
        .iter()
        .map(|l| l["weight"].as_str().unwrap())
        .collect();
    weights.sort_unstable();
    let want_weights: Vec<&str> = want["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(weights, want_weights);
    for l in layers.iter().filter(|l| l["op"] != "Gemm") {
        let node = l["node"].as_str().unwrap();
        assert_eq!(l["companions"], serde_json::json!([format!("{node}.R")]));
    }
    // The LSTM's parameters are W and R together: 2x16x5 + 2x16x4.
    assert_eq!(layers[0]["parameters"], 160 + 128);
}

/// The `DequantizeLinear` producing input `slot` of `node`, if any.
fn dequantize_of<'a>(graph: &'a Graph, node: &wdq_ir::Node, slot: usize) -> Option<&'a Op> {
    match graph.value(node.input(slot)?).def {
        ValueDef::Node { node, .. } => {
            Some(&graph.node(node).op).filter(|op| matches!(op, Op::DequantizeLinear(_)))
        }
        _ => None,
    }
}

#[test]
fn recurrent_weights_are_trained_searched_and_lowered_to_qdq() {
    let dir = tempfile::tempdir().unwrap();
    let (written, report) = quantize(dir.path(), &[]);
    let rows = report["layers"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    for name in RECURRENT {
        let row = rows.iter().find(|r| r["node"] == name).unwrap();
        assert!(row["statistic"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row["bits"].as_u64().is_some(), "{name} left float: {row}");
        assert_eq!(row["granularity"], "per-channel(axis=1)");
    }
    let q = wdq_onnx::load_model(&written).unwrap();
    for name in RECURRENT {
        let (_, node) = q.graph.live_nodes().find(|(_, n)| n.name == name).unwrap();
        for slot in [1, 2] {
            match dequantize_of(&q.graph, node, slot) {
                Some(Op::DequantizeLinear(a)) => assert_eq!(a.axis, Some(1), "{name} {slot}"),
                _ => panic!("{name}: input {slot} is not dequantized"),
            }
        }
        let bias = node.input(3).unwrap();
        let ValueDef::Initializer(b) = &q.graph.value(bias).def else {
            panic!("{name}: the bias is not a float initializer");
        };
        assert!(b.dtype().is_float());
    }
    let model = written.to_str().unwrap();
    let ok = run(&["check", model, "--target", "onnxruntime"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    // Written for onnxruntime with the LSTM at 4 bits: qnn refuses both of
    // its weights, W and R alike.
    let low = rows.iter().find(|r| r["bits"] == 4).expect("a 4-bit layer");
    let name = low["node"].as_str().unwrap();
    let qnn = run(&["check", model, "--target", "qnn"]);
    let text = String::from_utf8_lossy(&qnn.stdout);
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(name) && l.contains("takes no 4-bit"))
        .collect();
    assert_eq!(refused.len(), 2, "{text}");
    assert!(
        refused[1].contains(&format!("{name}.R_quantized: ")),
        "{text}"
    );
    onnxruntime_runs(&written, &fixture(DATA));
}

#[test]
fn a_target_without_quantized_recurrent_weights_keeps_them_float() {
    let dir = tempfile::tempdir().unwrap();
    let (written, report) = quantize(dir.path(), &["--target", "vitis"]);
    let refused = report["not_candidates"].as_array().unwrap();
    for name in RECURRENT {
        let why = refused
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {refused:?}"))[1]
            .as_str()
            .unwrap();
        assert!(why.starts_with("vitis takes no quantized "), "{why}");
        let row = report["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["node"] == name)
            .unwrap();
        assert!(row["bits"].is_null(), "{row}");
    }
    let q = wdq_onnx::load_model(&written).unwrap();
    for (_, node) in q.graph.live_nodes() {
        if matches!(node.op, Op::LSTM(_) | Op::GRU(_) | Op::RNN(_)) {
            assert!(dequantize_of(&q.graph, node, 1).is_none(), "{}", node.name);
            assert!(dequantize_of(&q.graph, node, 2).is_none(), "{}", node.name);
        }
    }
    let fc = q
        .graph
        .live_nodes()
        .find(|(_, n)| n.name == "fc")
        .unwrap()
        .1;
    assert!(
        dequantize_of(&q.graph, fc, 1).is_some(),
        "the Gemm is quantized"
    );
}

#[test]
fn weights_inside_if_branches_are_listed_as_not_layers() {
    let out = run(&[
        "inspect",
        &fixture("fixtures/models/if_branch_weights.onnx"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["layers"].as_array().unwrap().len(), 1);
    let branches = summary["branch_layers"].as_array().unwrap();
    let rows: Vec<(&str, &str, &str)> = branches
        .iter()
        .map(|b| {
            (
                b["branch"].as_str().unwrap(),
                b["node"].as_str().unwrap(),
                b["host"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("else_branch", "else_gemm", "branch"),
            ("then_branch", "then_matmul", "branch")
        ]
    );
    let why = branches[0]["reason"].as_str().unwrap();
    assert!(
        why.starts_with("inside If `else_branch`: not quantized because"),
        "{why}"
    );
    let text = run(&[
        "inspect",
        &fixture("fixtures/models/if_branch_weights.onnx"),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("weighted nodes inside subgraphs, not layers: 2"),
        "{text}"
    );
}

/// Checks `model` with the full ONNX checker and compares onnxruntime's
/// outputs on `data` with the executor's (`eval --save-outputs`); skipped,
/// saying so, when no Python with onnx and onnxruntime is found.
fn onnxruntime_runs(model: &Path, data: &str) {
    let python = std::env::var("WDQ_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args(["-c", "import onnx, onnxruntime"])
        .output();
    if !has.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: {python} cannot import onnx and onnxruntime (set WDQ_PYTHON)");
        return;
    }
    let ours = model.with_extension("out.npz");
    let out = run(&[
        "eval",
        model.to_str().unwrap(),
        "--data",
        data,
        "--save-outputs",
        ours.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = "import sys, numpy as np, onnx, onnxruntime as ort\n\
        onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\n\
        s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n\
        x = np.load(sys.argv[2])['input']\n\
        got = s.run(None, {'input': x})[0]\n\
        ours = np.load(sys.argv[3])['fc.out']\n\
        print(float(np.abs(got - ours).max() / np.abs(ours).max()))\n";
    let out = Command::new(&python)
        .args(["-c", script, model.to_str().unwrap(), data])
        .arg(&ours)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let relative: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        relative < 1e-4,
        "onnxruntime and the executor differ by {relative}"
    );
}

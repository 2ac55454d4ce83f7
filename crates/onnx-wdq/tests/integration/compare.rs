//! `onnx-wdq compare` on the digits classifier: orders, curves, the shared
//! evaluation cache, the JSON summary and the SVG charts.

use super::common::{fixture, run};
use onnx_wdq::compare::{compare, CompareOptions, Criterion};
use onnx_wdq::data::{DataFile, Dataset};
use onnx_wdq::quantize::{raise_opset, CandidateEvaluator, Metric, QuantizeOptions, Reference};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LAYERS: [&str; 5] = ["conv1", "conv2", "conv3", "fc1", "fc2"];

fn run_compare(out: &Path) -> Value {
    let output = run(&[
        "compare",
        &fixture("fixtures/digits/digits_cnn.onnx"),
        "--train",
        &fixture("fixtures/digits/train.npz"),
        "--val",
        &fixture("fixtures/digits/val.npz"),
        "--cycles",
        "2",
        "--low-bits",
        "3",
        "--criteria",
        "drift,range,max-abs,layer-accuracy,sqnr,gradient,random",
        "--random-orders",
        "3",
        "--out",
        &out.to_string_lossy(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("layer-accuracy") && stdout.contains("AUC"),
        "{stdout}"
    );
    serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text
}

fn count(text: &str, tag: &str, pred: impl Fn(roxmltree::Node) -> bool) -> usize {
    let doc = roxmltree::Document::parse(text).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name(tag) && pred(*n))
        .count()
}

#[test]
fn compare_digits_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let json = run_compare(dir.path());
    let criteria = json["criteria"].as_array().unwrap();
    let random = json["random"]["runs"].as_array().unwrap();
    assert_eq!(
        criteria.len(),
        11,
        "6 drift variants, range, max-abs, layer-accuracy, sqnr, gradient"
    );
    assert_eq!(random.len(), 3);
    let all: Vec<&Value> = criteria.iter().chain(random).collect();

    let expected: BTreeSet<String> = LAYERS.iter().map(|s| s.to_string()).collect();
    let mut by_set: BTreeMap<Vec<String>, f64> = BTreeMap::new();
    for c in &all {
        let order = strings(&c["order"]);
        assert_eq!(order.len(), 5, "{}", c["criterion"]);
        assert_eq!(
            order.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{}",
            c["criterion"]
        );
        let curve = c["curve"].as_array().unwrap();
        assert_eq!(curve.len(), 6, "N + 1 points");
        for (m, point) in curve.iter().enumerate() {
            assert_eq!(point["m"], m);
            assert_eq!(strings(&point["layers"]), order[..m].to_vec());
            let mut set = strings(&point["layers"]);
            set.sort();
            let accuracy = point["accuracy"].as_f64().unwrap();
            // The same layer set has exactly the same accuracy everywhere.
            let first = *by_set.entry(set.clone()).or_insert(accuracy);
            assert_eq!(first, accuracy, "{set:?} in {}", c["criterion"]);
        }
        assert!(c["auc"].as_f64().unwrap().is_finite());
        assert!(c["halving"]["evaluations"].as_u64().unwrap() >= 1);
    }
    // m = 0 is the all-high model for every criterion.
    let all_high = json["all_high_accuracy"].as_f64().unwrap();
    assert!(all
        .iter()
        .all(|c| c["curve"][0]["accuracy"].as_f64() == Some(all_high)));
    assert!(all
        .iter()
        .all(|c| c["curve"][0]["loss"] == all[0]["curve"][0]["loss"]));

    // Layer accuracy's scores are the single-layer curve points' losses.
    let layer_accuracy = criteria
        .iter()
        .find(|c| c["criterion"] == "layer-accuracy")
        .unwrap();
    let reference = json["reference_accuracy"].as_f64().unwrap();
    for (i, name) in LAYERS.iter().enumerate() {
        let single = by_set.get(&vec![name.to_string()]);
        if let Some(accuracy) = single {
            // (serde_json parses floats to within an ulp, not exactly)
            assert!(
                (layer_accuracy["scores"][i].as_f64().unwrap() - (reference - accuracy)).abs()
                    < 1e-9
            );
        }
    }
    assert_eq!(layer_accuracy["cost"]["evaluations"], 5);
    let drift = criteria
        .iter()
        .find(|c| c["criterion"] == "drift:mean-square")
        .unwrap();
    assert_eq!(drift["cost"]["training_cycles"], 2);

    // Each distinct set was measured once.
    let candidates = json["candidates"].as_array().unwrap();
    let sets: BTreeSet<Vec<String>> = candidates.iter().map(|c| strings(&c["layers"])).collect();
    assert_eq!(sets.len(), candidates.len());
    assert_eq!(
        json["evaluations"]["unique"].as_u64().unwrap() as usize,
        candidates.len()
    );
    assert!(by_set.keys().all(|s| sets.contains(s)));
    assert!(candidates.iter().any(|c| c["pareto"] == true));

    // The summary: one row per criterion and one for the random mean.
    let summary = json["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 12);
    assert!(summary
        .iter()
        .all(|r| r["auc"].as_f64().is_some() && r["cost_seconds"].as_f64().is_some()));
    assert!(summary[11]["criterion"]
        .as_str()
        .unwrap()
        .starts_with("random"));
    assert!(summary[11]["auc_std"].as_f64().is_some());

    // Charts: one 2-pixel polyline per criterion and the random mean, one
    // threshold polyline; one bar per layer; one circle per candidate.
    let curves = svg(&dir.path().join("loss_curves.svg"));
    assert_eq!(
        count(&curves, "polyline", |n| n.attribute("stroke-width")
            == Some("2")),
        11 + 1
    );
    assert_eq!(
        count(&curves, "polyline", |n| n.attribute("stroke")
            == Some("#C80000")),
        1
    );
    assert!(curves.contains("threshold 1.00") && curves.contains("drift:normalized"));
    let bars = svg(&dir.path().join("drift.svg"));
    assert_eq!(
        count(&bars, "rect", |n| n.attribute("fill") == Some("#4C72B0")),
        5
    );
    let pareto = svg(&dir.path().join("pareto.svg"));
    assert_eq!(count(&pareto, "circle", |_| true), candidates.len());
}

fn options() -> QuantizeOptions {
    QuantizeOptions {
        train: wdq_train::TrainOptions {
            cycles: 1,
            ..Default::default()
        },
        statistic: wdq_train::Statistic::MeanSquare,
        selection: wdq_plan::Selection::Bisect,
        threshold: Some(1.0),
        guard: false,
        skip_smallest: false,
        time_budget: None,
        reference: Reference::Fp32,
        metric: Some(Metric::Top1),
        metric_outputs: Vec::new(),
        low_bits: 3,
        high_bits: 8,
        target: wdq_lower::Target::default(),
        lower: wdq_lower::LowerOptions::default(),
        calibration: wdq_quant::calibrate::CalibrationMethod::MinMax,
        calibration_samples: 256,
        eval_batch_size: 256,
        early_stop: true,
    }
}

#[test]
fn parallel_cached_evaluations_equal_a_fresh_sequential_measure() {
    let model =
        wdq_onnx::load_model(Path::new(&fixture("fixtures/digits/digits_cnn.onnx"))).unwrap();
    let inputs = onnx_wdq::required_inputs(&model);
    let train = Dataset::load(Path::new(&fixture("fixtures/digits/train.npz")), &inputs).unwrap();
    let val = Dataset::load(Path::new(&fixture("fixtures/digits/val.npz")), &inputs).unwrap();
    let compare_options = CompareOptions {
        quantize: options(),
        criteria: vec![Criterion::Range, Criterion::Sqnr],
        stride: 2,
        random_orders: 1,
        gradient_batches: 1,
    };
    let report = compare(
        &model,
        &train,
        &val,
        &compare_options,
        &mut wdq_train::Quiet,
    )
    .unwrap();
    assert_eq!(report.prefix_lengths, vec![0, 2, 4, 5]);
    assert!(
        report.training.is_none(),
        "no drift criterion, no fine-tuning"
    );
    let q = options();
    let base = raise_opset(&model, &q).unwrap();
    let evaluator = CandidateEvaluator::prepare(&base, &train, &val, &q).unwrap();
    let graph = &evaluator.candidates.base.graph;
    let by_label = |l: &str| {
        evaluator
            .candidates
            .layers
            .iter()
            .copied()
            .find(|&n| graph.node_label(n) == l)
    };
    for c in &report.criteria {
        for point in &c.curve {
            let nodes: Vec<_> = point.layers.iter().map(|l| by_label(l).unwrap()).collect();
            let (lowered, accuracy) = evaluator.measure(&nodes).unwrap();
            assert_eq!(accuracy, point.accuracy, "{} m={}", c.criterion, point.m);
            assert_eq!(lowered.weight_bytes_after, point.weight_bytes);
        }
    }
}

//! The pipeline as a library: a Rust caller runs it with its own
//! evaluator and gets the report the CLI writes.

use super::common::fixture;
use onnx_wdq::data::{DataFile, Dataset};
use onnx_wdq::pipeline::{self, Evaluator};
use onnx_wdq::quantize::{QuantizeError, QuantizeOptions, ValidationScore};
use std::path::Path;
use wdq_ir::Model;
use wdq_train::{Quiet, TrainOptions};

/// A lower-is-better score: the error rate (100 - top-1), counting calls.
struct ErrorRate<'a> {
    top1: ValidationScore<'a>,
    calls: usize,
}

impl Evaluator for ErrorRate<'_> {
    fn score(&mut self, model: &Model) -> Result<f64, QuantizeError> {
        self.calls += 1;
        Ok(100.0 - self.top1.accuracy(model)?)
    }
    fn higher_is_better(&self) -> bool {
        false
    }
    fn metric(&self) -> String {
        "error rate".to_string()
    }
}

#[test]
fn a_callers_evaluator_drives_the_same_search() {
    let model = pipeline::import(Path::new(&fixture("fixtures/digits/digits_cnn.onnx"))).unwrap();
    let inputs = onnx_wdq::required_inputs(&model);
    let train = Dataset::load(Path::new(&fixture("fixtures/digits/train.npz")), &inputs).unwrap();
    let val = Dataset::load(Path::new(&fixture("fixtures/digits/val.npz")), &inputs).unwrap();
    let options = QuantizeOptions {
        train: TrainOptions {
            cycles: 2,
            ..TrainOptions::default()
        },
        low_bits: 3,
        // A caller's evaluator has no default threshold: it is in its unit.
        threshold: Some(1.0),
        ..QuantizeOptions::default()
    };
    let mut top1 = ValidationScore::new(&model, &val, &options).unwrap();
    let built_in = pipeline::run(&model, &train, &options, &mut top1, &mut Quiet).unwrap();
    let mut errors = ErrorRate {
        top1: ValidationScore::new(&model, &val, &options).unwrap(),
        calls: 0,
    };
    let custom = pipeline::run(&model, &train, &options, &mut errors, &mut Quiet).unwrap();
    let (a, b) = (&built_in.report, &custom.report);
    assert_eq!(b.metric, "error rate");
    // The same candidates, judged the same way: losses agree, scores mirror.
    assert_eq!(a.candidates.len(), b.candidates.len());
    assert_eq!(
        errors.calls,
        2 + b.candidates.len(),
        "reference, all-high, candidates"
    );
    for (x, y) in a.candidates.iter().zip(&b.candidates) {
        assert_eq!(x.layers, y.layers);
        assert_eq!(x.within_threshold, y.within_threshold);
        // The built-in evaluator may stop once the answer is certain: its
        // figures then cover the samples it ran.
        if x.stopped_after.is_some() {
            continue;
        }
        let (lx, ly) = (x.loss.unwrap(), y.loss.unwrap());
        assert!((lx - ly).abs() < 1e-9, "{lx} vs {ly}");
        assert!((x.accuracy + y.accuracy - 100.0).abs() < 1e-9);
    }
    let bits = |r: &onnx_wdq::quantize::QuantizeReport| -> Vec<Option<u8>> {
        r.layers.iter().map(|l| l.bits).collect()
    };
    assert_eq!(bits(a), bits(b));
    assert_eq!(a.met_threshold, b.met_threshold);
    assert!((a.final_accuracy + b.final_accuracy - 100.0).abs() < 1e-9);
    // The same written graph (the model metadata names the metric).
    assert!(built_in.model.graph == custom.model.graph);
}

/// Every weighted node of the written model carries its annotations, the
/// second user of a tied weight included, with the Qm.n fraction length
/// under power-of-two scales; the model carries the run's scores.
#[test]
fn annotations_cover_every_weighted_node() {
    let model = pipeline::import(Path::new(&fixture("fixtures/models/tied_mlp.onnx"))).unwrap();
    let data = Dataset::load(
        Path::new(&fixture("fixtures/models/tied_mlp.data.npz")),
        &onnx_wdq::required_inputs(&model),
    )
    .unwrap();
    let options = QuantizeOptions {
        train: TrainOptions {
            cycles: 2,
            learning_rate: 0.05,
            ..TrainOptions::default()
        },
        lower: wdq_lower::LowerOptions {
            scale: wdq_lower::ScaleMode::PowerOfTwo,
            ..wdq_lower::LowerOptions::default()
        },
        ..QuantizeOptions::default()
    };
    let mut top1 = ValidationScore::new(&model, &data, &options).unwrap();
    let out = pipeline::run(&model, &data, &options, &mut top1, &mut Quiet).unwrap();
    let graph = &out.model.graph;
    let notes = |name: &str| -> Vec<String> {
        let (_, node) = graph.live_nodes().find(|(_, n)| n.name == name).unwrap();
        node.metadata.iter().map(|(k, _)| k.clone()).collect()
    };
    // The exporter's own metadata stays, the annotations follow it.
    assert_eq!(notes("fc1")[0], "origin");
    let notes = |name: &str| -> Vec<String> {
        notes(name)
            .into_iter()
            .filter(|k| k.starts_with("wdq."))
            .collect()
    };
    for name in ["fc1", "fc2", "fc3"] {
        assert_eq!(
            notes(name),
            [
                "wdq.statistic",
                "wdq.rank",
                "wdq.bits",
                "wdq.scale_min",
                "wdq.scale_max",
                "wdq.fraction_length"
            ],
            "{name}"
        );
    }
    let meta = |key: &str| {
        out.model
            .metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(
        meta("wdq.written_score").parse::<f64>().unwrap(),
        out.report.final_accuracy
    );
    assert_eq!(meta("wdq.metric"), "top-1");
}

/// BatchNormalization is folded before anything is measured: the written
/// resnet_bn has none, each Conv that absorbed one names it in
/// `wdq.folded` next to its other annotations, and the report's layers
/// are the Convs.
#[test]
fn the_written_model_has_batchnorm_folded_and_traceable() {
    let model = pipeline::import(Path::new(&fixture("fixtures/models/resnet_bn.onnx"))).unwrap();
    let data = Dataset::load(
        Path::new(&fixture("fixtures/models/resnet_bn.inputs.npz")),
        &onnx_wdq::required_inputs(&model),
    )
    .unwrap();
    let options = QuantizeOptions {
        train: TrainOptions {
            cycles: 1,
            batch_size: 2,
            ..TrainOptions::default()
        },
        selection: wdq_plan::Selection::Count { n: 3 },
        ..QuantizeOptions::default()
    };
    let mut score = ValidationScore::new(&model, &data, &options).unwrap();
    let out = pipeline::run(&model, &data, &options, &mut score, &mut Quiet).unwrap();
    let graph = &out.model.graph;
    let ops: Vec<&str> = graph.live_nodes().map(|(_, n)| n.op.op_type()).collect();
    assert!(!ops.contains(&"BatchNormalization"), "{ops:?}");
    let folded: Vec<(String, String)> = graph
        .live_nodes()
        .filter_map(|(id, n)| {
            let note = n.metadata.iter().find(|(k, _)| k == "wdq.folded")?;
            assert!(n.metadata.iter().any(|(k, _)| k == "wdq.bits"));
            Some((graph.node_label(id), note.1.clone()))
        })
        .collect();
    assert_eq!(folded.len(), 6, "{folded:?}");
    assert!(folded
        .iter()
        .all(|(conv, bn)| bn == &conv.replace(".conv", ".bn")));
    assert_eq!(out.report.layers.len(), 7);
    // The written file reads back the same.
    let bytes = wdq_onnx::encode_model(&out.model).unwrap();
    let back = wdq_onnx::decode_model(&bytes, None).unwrap();
    assert!(back
        .graph
        .live_nodes()
        .all(|(_, n)| n.op.op_type() != "BatchNormalization"));
}

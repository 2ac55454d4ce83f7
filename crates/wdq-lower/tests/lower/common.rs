//! Helpers shared by the test modules: fixtures, calibration, plans, runs.
#![allow(dead_code)]

use ndarray::{ArrayD, Axis};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::path::{Path, PathBuf};
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_ir::{weighted_layers, Model};
use wdq_lower::{
    activation_points, lower, ActivationRanges, LayerChoice, LowerOptions, Lowered, QuantPlan,
};

/// A path under the repository's `fixtures/`.
pub fn fixture(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(sub)
}

pub fn load(sub: &str) -> Model {
    wdq_onnx::load_model(&fixture(sub)).unwrap()
}

/// The f32 arrays of an npz, by key.
pub fn read_f32_npz(path: &Path) -> Vec<(String, ArrayD<f32>)> {
    let mut npz = NpzReader::new(File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for name in npz.names().unwrap() {
        let key = name.trim_end_matches(".npy").to_string();
        if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<f32>, ndarray::IxDyn>(&name) {
            out.push((key, a));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The int64 labels of a digits split.
pub fn read_labels(path: &Path) -> Vec<i64> {
    let mut npz = NpzReader::new(File::open(path).unwrap()).unwrap();
    let a: ArrayD<i64> = npz.by_name("labels.npy").unwrap();
    a.iter().copied().collect()
}

/// Named inputs of a fixture model (`fixtures/models/<name>.inputs.npz`).
pub fn model_inputs(name: &str) -> Vec<(String, TensorValue)> {
    read_f32_npz(&fixture(&format!("models/{name}.inputs.npz")))
        .into_iter()
        .map(|(k, a)| (k, TensorValue::F32(a)))
        .collect()
}

/// The first `n` digits validation images (all when `n` is `None`).
pub fn digits_val(n: Option<usize>) -> ArrayD<f32> {
    let all = read_f32_npz(&fixture("digits/val.npz"))
        .into_iter()
        .find(|(k, _)| k == "input")
        .unwrap()
        .1;
    match n {
        Some(n) => all.slice_axis(Axis(0), (0..n).into()).to_owned(),
        None => all,
    }
}

pub fn run(model: &Model, inputs: &[(String, TensorValue)]) -> Vec<ArrayD<f32>> {
    let plan = Plan::new(model).unwrap();
    let refs: Vec<(&str, TensorValue)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    plan.run(&refs)
        .unwrap()
        .into_iter()
        .map(|v| v.as_f32().unwrap().clone())
        .collect()
}

/// Min-max ranges of the activation points, from running the float model.
pub fn calibrate(
    model: &Model,
    options: &LowerOptions,
    inputs: &[(String, TensorValue)],
) -> ActivationRanges {
    let points = activation_points(model, options);
    let plan = Plan::new(model).unwrap();
    let refs: Vec<(&str, TensorValue)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let (_, kept) = plan.run_with(&refs, &points).unwrap();
    let mut ranges = ActivationRanges::default();
    for p in points {
        let v = kept[&p].as_f32().unwrap();
        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        ranges.0.insert(p, (lo, hi));
    }
    ranges
}

/// Every weighted layer at `bits(i)` for the `i`th layer in graph order.
pub fn plan_with(model: &Model, bits: impl Fn(usize) -> u8) -> QuantPlan {
    let mut plan = QuantPlan::default();
    for (i, layer) in weighted_layers(&model.graph).iter().enumerate() {
        plan.layers
            .insert(layer.node, LayerChoice { bits: bits(i) });
    }
    plan
}

/// 4 bits for even layers, 8 for odd ones.
pub fn mixed_plan(model: &Model) -> QuantPlan {
    plan_with(model, |i| if i % 2 == 0 { 4 } else { 8 })
}

pub fn lower_with(
    model: &Model,
    plan: &QuantPlan,
    options: &LowerOptions,
    inputs: &[(String, TensorValue)],
) -> Lowered {
    let ranges = calibrate(model, options, inputs);
    lower(model, plan, &ranges, options).unwrap()
}

/// A copy converted to opset 21 (for INT4 initializers).
pub fn at_opset_21(model: &Model) -> Model {
    let mut m = model.clone();
    wdq_onnx::convert_opset(&mut m, 21).unwrap();
    m
}

/// `|a - b|_2 / |b|_2` over all outputs.
pub fn relative_error(a: &[ArrayD<f32>], b: &[ArrayD<f32>]) -> f32 {
    let (mut num, mut den) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.shape(), y.shape());
        for (p, q) in x.iter().zip(y) {
            num += f64::from(p - q).powi(2);
            den += f64::from(*q).powi(2);
        }
    }
    (num / den.max(1e-30)).sqrt() as f32
}

/// Row-wise argmax of a `[n, classes]` array.
pub fn argmax(a: &ArrayD<f32>) -> Vec<usize> {
    a.axis_iter(Axis(0))
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 {
                        (i, v)
                    } else {
                        best
                    }
                })
                .0
        })
        .collect()
}

/// The dump plus one line per lowered and skipped layer (4 significant digits).
pub fn summary(lowered: &Lowered) -> String {
    let mut text = wdq_ir::dump::dump_model(&lowered.model);
    text.push_str("\nlayers:\n");
    for l in &lowered.layers {
        text.push_str(&format!(
            "  {} bits={} scales=[{:.4e}, {:.4e}] n={:?} zp={} {}\n",
            l.node,
            l.bits,
            l.scales_min,
            l.scales_max,
            l.fraction_lengths,
            l.zero_point,
            l.granularity
        ));
    }
    for s in &lowered.skipped {
        text.push_str(&format!("  skipped {}: {}\n", s.node, s.reason));
    }
    text.push_str(&format!(
        "bytes {} -> {}\n",
        lowered.weight_bytes_before, lowered.weight_bytes_after
    ));
    text
}

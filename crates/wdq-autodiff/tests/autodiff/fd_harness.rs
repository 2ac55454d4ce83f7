//! The finite-difference harness: a one-node (or small) model, the
//! analytic gradients of `f = sum(out * R)` from [`wdq_autodiff::gradient_graph`]
//! run by the executor, and central differences of `f`.
//!
//! The executor's kernels are f32, so `f` is evaluated with the f32 forward
//! kernels and summed in f64, with step `h` (1e-2 unless a case says
//! otherwise). With that step the truncation error (`h^2 f'''/6`) and the
//! f32 rounding of `f` (about `1e-7 * sum |out * R| / h`) both stay near
//! 1e-4 relative on these small tensors, so a rule passes when
//! `max |analytic - fd| <= TOL * max(max |fd|, 1e-2)` with `TOL = 1e-2`
//! per differentiated tensor. Inputs are sampled away from kinks (Relu,
//! Abs, Clip, pooling ties) by more than `h`.

use crate::common::Lcg;
use ndarray::ArrayD;
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_ir::{DType, Graph, Model, Op, OpsetId, Tensor, TensorType, ValueDef, ValueId};

pub const TOL: f64 = 1e-2;

/// An input of a test model: fed (and differentiated when `wrt`) or constant.
pub enum In {
    /// A differentiated f32 graph input.
    Wrt(Vec<usize>, Vec<f32>),
    /// A constant (initializer).
    Const(Tensor),
    /// An omitted optional input.
    Absent,
}

/// Random f32 data of `shape` in [-1, 1).
pub fn rand(rng: &mut Lcg, shape: &[usize]) -> In {
    let n = shape.iter().product();
    In::Wrt(shape.to_vec(), rng.vec(n))
}

/// Random data with `|x - k| >= margin` for every kink `k`.
pub fn away(rng: &mut Lcg, shape: &[usize], scale: f32, kinks: &[f32], margin: f32) -> In {
    let n: usize = shape.iter().product();
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        let x = rng.unit() * scale;
        if kinks.iter().all(|k| (x - k).abs() >= margin) {
            v.push(x);
        }
    }
    In::Wrt(shape.to_vec(), v)
}

/// Distinct values spaced by `gap` in random order (no ties for max ops).
pub fn distinct(rng: &mut Lcg, shape: &[usize], gap: f32) -> In {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * gap).collect();
    for i in (1..n).rev() {
        let j = rng.next_u32() as usize % (i + 1);
        v.swap(i, j);
    }
    In::Wrt(shape.to_vec(), v)
}

pub fn ints(v: &[i64]) -> In {
    In::Const(Tensor::from_i64(vec![v.len()], v.to_vec()))
}

pub fn scalar_const(x: f32) -> In {
    In::Const(Tensor::from_f32(vec![], vec![x]))
}

/// A model of one node `op` over `inputs`, with `outputs` output slots
/// (output 0 is the graph output).
pub fn one_node(
    op: Op,
    opset: i64,
    inputs: &[In],
    outputs: usize,
) -> (Model, Vec<(String, TensorValue)>) {
    let mut g = Graph::default();
    let mut feeds = Vec::new();
    let mut ids: Vec<Option<ValueId>> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let name = format!("in{i}");
        ids.push(match input {
            In::Wrt(shape, data) => {
                let ty = TensorType::known(DType::F32, shape);
                let v = g.add_value(name.clone(), Some(ty), ValueDef::Input);
                g.inputs.push(v);
                let value = ArrayD::from_shape_vec(shape.clone(), data.clone()).unwrap();
                feeds.push((name, TensorValue::F32(value)));
                Some(v)
            }
            In::Const(t) => Some(g.add_initializer(name, t.clone())),
            In::Absent => None,
        });
    }
    let names: Vec<String> = (0..outputs).map(|i| format!("out{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let node = g.add_node("op", op, ids, &refs, None);
    g.outputs.push(g.node(node).output(0).unwrap());
    let model = Model {
        ir_version: 8,
        opsets: vec![OpsetId {
            domain: String::new(),
            version: opset,
        }],
        graph: g,
        ..Model::default()
    };
    (model, feeds)
}

fn objective(plan: &Plan, feeds: &[(String, TensorValue)], r: &[f32]) -> f64 {
    let args: Vec<(&str, TensorValue)> =
        feeds.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let out = plan.run(&args).unwrap();
    out[0]
        .as_f32()
        .unwrap()
        .iter()
        .zip(r)
        .map(|(&y, &w)| y as f64 * w as f64)
        .sum()
}

/// Checks the analytic gradient of every `Wrt` input against central
/// differences with step `h`; returns the worst relative error.
pub fn check(what: &str, model: &Model, feeds: &[(String, TensorValue)], h: f32) -> f64 {
    let plan = Plan::new(model).unwrap_or_else(|e| panic!("{what}: {e}"));
    let args: Vec<(&str, TensorValue)> =
        feeds.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let y = plan.run(&args).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut rng = Lcg(0x5eed ^ what.len() as u64);
    let shape = y[0].shape().to_vec();
    let r: Vec<f32> = rng.vec(shape.iter().product());
    let wrt: Vec<&str> = feeds.iter().map(|(n, _)| n.as_str()).collect();
    let gg = wdq_autodiff::gradient_graph(model, &wrt).unwrap_or_else(|e| panic!("{what}: {e}"));
    let gplan = Plan::new(&gg.model).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut gargs = args.clone();
    gargs.push((
        gg.seed_input.as_str(),
        TensorValue::F32(ArrayD::from_shape_vec(shape, r.clone()).unwrap()),
    ));
    let grads = gplan.run(&gargs).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut worst = 0.0f64;
    for (k, (name, value)) in feeds.iter().enumerate() {
        let analytic = grads[k + 1].as_f32().unwrap();
        assert_eq!(
            analytic.shape(),
            value.shape(),
            "{what}: gradient shape of {name}"
        );
        let base = value.as_f32().unwrap();
        let mut fd = Vec::with_capacity(base.len());
        for i in 0..base.len() {
            let at = |delta: f32| {
                let mut moved = feeds.to_vec();
                let TensorValue::F32(a) = &mut moved[k].1 else {
                    unreachable!()
                };
                a.as_slice_mut().unwrap()[i] += delta;
                objective(&plan, &moved, &r)
            };
            fd.push((at(h) - at(-h)) / (2.0 * h as f64));
        }
        let scale = fd.iter().fold(1e-2f64, |m, v| m.max(v.abs()));
        let err = analytic
            .iter()
            .zip(&fd)
            .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b).abs()));
        let rel = err / scale;
        assert!(
            rel <= TOL,
            "{what}: d/d{name} relative error {rel:.2e} (scale {scale:.2e})"
        );
        worst = worst.max(rel);
    }
    worst
}

/// `check` for a one-node model.
pub fn check_op(what: &str, op: Op, opset: i64, inputs: &[In]) -> f64 {
    let (model, feeds) = one_node(op, opset, inputs, 1);
    check(what, &model, &feeds, 1e-2)
}

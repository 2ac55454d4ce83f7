//! Shared by the bench binaries: seeded inputs in the declared shapes,
//! median/min timing, and an optional per-op profile (`WDQ_BENCH_PROFILE=1`)
//! that re-runs the graph node by node through `wdq_exec::run_op` and
//! prints where the time goes (to stderr, so stdout stays one JSON line).

#![allow(dead_code)] // shared by both bins; each uses a part

use anyhow::{bail, Context, Result};
use ndarray::ArrayD;
use std::collections::HashMap;
use std::time::Instant;
use wdq_exec::{run_op, KernelContext, TensorValue};
use wdq_ir::{DType, Dim, Model, Op, ValueDef};

/// xorshift64 stream: the same inputs on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        Rng(0x2545_f491_4f6c_dd1d)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Seeded f32 values for every graph input that has no initializer default,
/// in its declared shape with symbolic dimensions set to `batch`.
pub fn random_inputs(
    model: &Model,
    batch: usize,
    rng: &mut Rng,
) -> Result<Vec<(String, TensorValue)>> {
    let graph = &model.graph;
    let mut inputs = Vec::new();
    for &id in &graph.inputs {
        let value = graph.value(id);
        if !matches!(value.def, ValueDef::Input) {
            continue;
        }
        let ty = value.ty.as_ref().context("input without a declared type")?;
        if ty.dtype != DType::F32 {
            bail!(
                "input `{}` is {}; the bench feeds f32 only",
                value.name,
                ty.dtype
            );
        }
        let shape = concrete_shape(ty.shape.as_deref().context("input of unknown rank")?, batch);
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| rng.unit()).collect();
        inputs.push((
            value.name.clone(),
            TensorValue::F32(ArrayD::from_shape_vec(shape, data)?),
        ));
    }
    Ok(inputs)
}

/// A declared shape with symbolic dimensions set to `batch`.
pub fn concrete_shape(dims: &[Dim], batch: usize) -> Vec<usize> {
    dims.iter()
        .map(|d| match d {
            Dim::Known(n) => *n,
            _ => batch,
        })
        .collect()
}

/// Warms up once, then times `iters` calls; returns the JSON object
/// `{"median_ms", "min_ms"}` (milliseconds).
pub fn time_ms(
    iters: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    f()?;
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let mut out = serde_json::Map::new();
    out.insert("median_ms".into(), times[times.len() / 2].into());
    out.insert("min_ms".into(), times[0].into());
    Ok(out)
}

/// Whether `WDQ_BENCH_PROFILE` asks for the per-op profile.
pub fn profile_requested() -> bool {
    std::env::var("WDQ_BENCH_PROFILE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Runs `model` node by node `iters` times (after one warm-up) and prints
/// the median time of each node, summed per op type, largest first, with
/// the share of the sum, then the slowest nodes. Medians keep preemption
/// by other processes out. Values are kept for the whole run (no release,
/// so no in-place reuse), so this says where the time goes; the JSON line
/// is the total to compare.
pub fn profile(model: &Model, feeds: &[(&str, TensorValue)], iters: usize) -> Result<()> {
    let graph = &model.graph;
    let ctx = KernelContext {
        opset: model.default_opset().unwrap_or(13),
    };
    let mut base: HashMap<usize, TensorValue> = HashMap::new();
    for (i, value) in graph.values.iter().enumerate() {
        if let ValueDef::Initializer(t) = &value.def {
            base.insert(i, TensorValue::from_tensor(t)?);
        }
    }
    for (name, v) in feeds {
        let id = graph
            .inputs
            .iter()
            .find(|&&id| graph.value(id).name == *name)
            .with_context(|| format!("no graph input `{name}`"))?;
        base.insert(id.index(), v.clone());
    }
    let nodes: Vec<_> = graph
        .live_nodes()
        .map(|(_, n)| n)
        .filter(|n| !matches!(n.op, Op::Constant(_)))
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); nodes.len()];
    let mut rounds = Vec::new();
    for round in 0..=iters.max(1) {
        let mut values = base.clone();
        let round_start = Instant::now();
        for (_, node) in graph.live_nodes() {
            let args: Vec<Option<&TensorValue>> = node
                .inputs
                .iter()
                .map(|v| v.and_then(|v| values.get(&v.index())))
                .collect();
            let start = Instant::now();
            let out = run_op(&node.op, ctx, &args)
                .map_err(|e| anyhow::anyhow!("{} ({}): {e}", node.name, node.op.op_type()))?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            if round > 0 {
                if let Some(i) = nodes.iter().position(|n| std::ptr::eq(*n, node)) {
                    times[i].push(ms);
                }
            }
            for (slot, v) in node.outputs.iter().zip(out) {
                if let (Some(slot), Some(v)) = (slot, v) {
                    values.insert(slot.index(), v);
                }
            }
        }
        if round > 0 {
            rounds.push(round_start.elapsed().as_secs_f64() * 1e3);
        }
    }
    rounds.sort_by(f64::total_cmp);
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect();
    let total: f64 = medians.iter().sum();
    let mut per_op: HashMap<&str, (f64, usize)> = HashMap::new();
    for (node, ms) in nodes.iter().zip(&medians) {
        let e = per_op.entry(node.op.op_type()).or_default();
        e.0 += ms;
        e.1 += 1;
    }
    let mut rows: Vec<_> = per_op.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    eprintln!(
        "per-op profile: {total:.3} ms per run (sum of per-node medians); \
         node-by-node loop {:.3} ms (median)",
        rounds[rounds.len() / 2]
    );
    for (op, (ms, count)) in rows {
        eprintln!(
            "  {op:<28} {ms:>9.3} ms {:>5.1}%  ({count} nodes)",
            100.0 * ms / total
        );
    }
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| medians[b].total_cmp(&medians[a]));
    eprintln!("top nodes:");
    for i in order.into_iter().take(12) {
        let label = format!("{} [{}]", nodes[i].name, nodes[i].op.op_type());
        let ms = medians[i];
        eprintln!("  {label:<48} {ms:>9.3} ms {:>5.1}%", 100.0 * ms / total);
    }
    Ok(())
}

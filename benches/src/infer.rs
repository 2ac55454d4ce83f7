//! Times wdq-exec inference on one model: `wdq-bench-infer MODEL BATCH THREADS ITERS`.
//! Prints one JSON line `{"median_ms": .., "min_ms": ..}`. Inputs are seeded
//! pseudo-random values in the declared shapes (symbolic dimensions take
//! BATCH). `benches/infer_vs_ort.py` runs it beside onnxruntime.

use anyhow::{bail, Context, Result};
use ndarray::ArrayD;
use std::time::Instant;
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_ir::{DType, Dim, ValueDef};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        bail!("usage: wdq-bench-infer MODEL BATCH THREADS ITERS");
    }
    let batch: usize = args[2].parse().context("BATCH")?;
    let threads: usize = args[3].parse().context("THREADS")?;
    let iters: usize = args[4].parse().context("ITERS")?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let model = wdq_onnx::load_model(args[1].as_ref())?;
    let graph = &model.graph;
    let mut state = 0x2545_f491_4f6c_dd1du64;
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
        let shape: Vec<usize> = ty
            .shape
            .as_ref()
            .context("input of unknown rank")?
            .iter()
            .map(|d| match d {
                Dim::Known(n) => *n,
                _ => batch,
            })
            .collect();
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect();
        inputs.push((
            value.name.as_str(),
            TensorValue::F32(ArrayD::from_shape_vec(shape, data)?),
        ));
    }
    let plan = Plan::new(&model)?;
    plan.run(&inputs)?;
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        plan.run(&inputs)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let out = serde_json::json!({ "median_ms": times[times.len() / 2], "min_ms": times[0] });
    println!("{out}");
    Ok(())
}

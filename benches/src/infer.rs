//! Times wdq-exec inference on one model: `wdq-bench-infer MODEL BATCH THREADS ITERS`.
//! Prints one JSON line `{"median_ms": .., "min_ms": ..}`. Inputs are seeded
//! pseudo-random values in the declared shapes (symbolic dimensions take
//! BATCH). `benches/infer_vs_ort.py` runs it beside onnxruntime. With
//! `WDQ_BENCH_PROFILE=1` it also prints the time per op type to stderr.

mod common;

/// The allocator the onnx-wdq binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{bail, Context, Result};
use common::Rng;
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;

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
    let owned = common::random_inputs(&model, batch, &mut Rng::new())?;
    let inputs: Vec<(&str, TensorValue)> =
        owned.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let plan = Plan::new(&model)?;
    let out = common::time_ms(iters, || {
        plan.run(&inputs)?;
        Ok(())
    })?;
    println!("{}", serde_json::Value::Object(out));
    if common::profile_requested() {
        common::profile(&model, &inputs, iters)?;
    }
    Ok(())
}

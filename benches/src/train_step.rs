//! Times one wdq-exec training step: `wdq-bench-train MODEL BATCH THREADS ITERS`.
//!
//! The step model is `wdq_autodiff::training_step` with the default
//! [`StepOptions`] (cross-entropy on output 0, plain SGD, weights and biases
//! of the weighted layers trained, BatchNormalization frozen). One timed
//! iteration is one `Plan::run` of the step model: forward, loss, backward
//! and the SGD update. Inputs are seeded pseudo-random values in the
//! declared shapes (symbolic dimensions take BATCH), labels are seeded in
//! `[0, classes)` with `classes` = dimension 1 of output 0. The parameter
//! inputs keep their defaults (the model's values), so every iteration does
//! the same work. Warms up once, then prints one JSON line
//! `{"median_ms": .., "min_ms": .., "params": .., "step_nodes": ..}`
//! (trained parameter tensors, nodes of the step graph). `benches/train_vs_torch.py` runs it
//! beside PyTorch. With `WDQ_BENCH_PROFILE=1` it also prints the
//! time per op type of the step graph to stderr.

mod common;

/// The allocator the onnx-wdq binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{bail, Context, Result};
use common::Rng;
use ndarray::{arr0, Array1};
use wdq_autodiff::{training_step, StepOptions};
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_ir::Dim;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        bail!("usage: wdq-bench-train MODEL BATCH THREADS ITERS");
    }
    let batch: usize = args[2].parse().context("BATCH")?;
    let threads: usize = args[3].parse().context("THREADS")?;
    let iters: usize = args[4].parse().context("ITERS")?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let model = wdq_onnx::load_model(args[1].as_ref())?;
    let classes = {
        let out = *model
            .graph
            .outputs
            .first()
            .context("model without outputs")?;
        let ty = model
            .graph
            .value(out)
            .ty
            .as_ref()
            .context("output 0 without a type")?;
        match ty.shape.as_deref().and_then(|s| s.get(1)) {
            Some(Dim::Known(c)) => *c,
            _ => bail!("output 0 has no known dimension 1 (the number of classes)"),
        }
    };
    let step = training_step(&model, &StepOptions::default())?;
    let mut rng = Rng::new();
    let data = common::random_inputs(&model, batch, &mut rng)?;
    let labels: Vec<i64> = (0..batch).map(|_| rng.below(classes) as i64).collect();
    let mut feeds: Vec<(&str, TensorValue)> =
        data.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    feeds.push((
        step.target_input.as_str(),
        TensorValue::I64(Array1::from(labels).into_dyn()),
    ));
    feeds.push((
        step.learning_rate_input.as_str(),
        TensorValue::F32(arr0(1e-3f32).into_dyn()),
    ));
    let plan = Plan::new(&step.model)?;
    let mut out = common::time_ms(iters, || {
        plan.run(&feeds)?;
        Ok(())
    })?;
    out.insert("params".into(), step.params.len().into());
    out.insert("step_nodes".into(), step.model.graph.order.len().into());
    println!("{}", serde_json::Value::Object(out));
    if common::profile_requested() {
        common::profile(&step.model, &feeds, iters)?;
    }
    Ok(())
}

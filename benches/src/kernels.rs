//! Throughput of the heaviest kernels (Conv in its common shapes, a large
//! Gemm, one Conv on one thread): `wdq-bench-kernels [ITERS]`. Prints one
//! JSON line per case with `{"median_ms", "min_ms", "gflops"}`. Speed is
//! measured here, never asserted by a test. Build with `--release`.
//! (Per-model run times: `wdq-bench-infer`.)

mod common;

/// The allocator the onnx-wdq binary uses (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use common::Rng;
use ndarray::{ArrayD, IxDyn};
use wdq_exec::{run_op, KernelContext, TensorValue};
use wdq_ir::op::{ConvAttrs, GemmAttrs};
use wdq_ir::Op;

/// Name, input shape, weight shape, group, pads.
type ConvCase = (&'static str, [usize; 4], [usize; 4], i64, i64);

const CONVS: [ConvCase; 5] = [
    (
        "conv 64->64 3x3 pad1 on 8x64x32x32",
        [8, 64, 32, 32],
        [64, 64, 3, 3],
        1,
        1,
    ),
    (
        "conv 64->64 3x3 pad1 on 1x64x32x32",
        [1, 64, 32, 32],
        [64, 64, 3, 3],
        1,
        1,
    ),
    (
        "conv 64->128 1x1 on 8x64x32x32",
        [8, 64, 32, 32],
        [128, 64, 1, 1],
        1,
        0,
    ),
    (
        "conv 3->32 3x3 pad1 on 8x3x64x64",
        [8, 3, 64, 64],
        [32, 3, 3, 3],
        1,
        1,
    ),
    (
        "depthwise 64 3x3 pad1 on 8x64x32x32",
        [8, 64, 32, 32],
        [64, 1, 3, 3],
        64,
        1,
    ),
];

fn tensor(rng: &mut Rng, shape: &[usize]) -> Result<TensorValue> {
    let data: Vec<f32> = (0..shape.iter().product()).map(|_| rng.unit()).collect();
    Ok(TensorValue::F32(ArrayD::from_shape_vec(
        IxDyn(shape),
        data,
    )?))
}

fn bench(name: &str, flops: f64, iters: usize, op: &Op, inputs: &[&TensorValue]) -> Result<()> {
    let inputs: Vec<Option<&TensorValue>> = inputs.iter().map(|&t| Some(t)).collect();
    let mut timing = common::time_ms(iters, || {
        run_op(op, KernelContext { opset: 13 }, &inputs)?;
        Ok(())
    })
    .with_context(|| name.to_string())?;
    let min_ms = timing["min_ms"].as_f64().unwrap_or(f64::NAN);
    timing.insert("case".into(), name.into());
    timing.insert("gflops".into(), (flops / (min_ms * 1e-3) / 1e9).into());
    println!("{}", serde_json::Value::Object(timing));
    Ok(())
}

fn main() -> Result<()> {
    let iters: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("ITERS")?,
        None => 20,
    };
    let mut rng = Rng::new();
    for (name, xs, ws, group, pad) in CONVS {
        let x = tensor(&mut rng, &xs)?;
        let w = tensor(&mut rng, &ws)?;
        let b = tensor(&mut rng, &[ws[0]])?;
        let op = Op::Conv(ConvAttrs {
            group: Some(group),
            pads: Some(vec![pad; 4]),
            ..Default::default()
        });
        let flops = 2.0 * (xs[0] * ws[0] * xs[2] * xs[3] * ws[1] * ws[2] * ws[3]) as f64;
        bench(name, flops, iters, &op, &[&x, &w, &b])?;
    }
    let a = tensor(&mut rng, &[512, 1024])?;
    let b = tensor(&mut rng, &[1024, 1024])?;
    let gemm = Op::Gemm(GemmAttrs::default());
    bench(
        "gemm 512x1024x1024",
        2.0 * 512.0 * 1024.0 * 1024.0,
        iters,
        &gemm,
        &[&a, &b],
    )?;
    let x = tensor(&mut rng, &[8, 64, 32, 32])?;
    let w = tensor(&mut rng, &[64, 64, 3, 3])?;
    let conv = Op::Conv(ConvAttrs {
        pads: Some(vec![1; 4]),
        ..Default::default()
    });
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    single.install(|| {
        bench(
            "conv 64->64 3x3 on 8x64x32x32, one thread",
            2.0 * (8 * 64 * 1024 * 64 * 9) as f64,
            iters,
            &conv,
            &[&x, &w],
        )
    })
}

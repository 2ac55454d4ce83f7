//! Throughput probes of the heaviest kernels. Ignored by default (speed is
//! measured, never asserted); run with
//! `cargo test --release -p wdq-exec --test nn_speed -- --ignored --nocapture`.

use crate::common::{run1, Lcg};
use std::time::Instant;
use wdq_ir::op::{ConvAttrs, GemmAttrs};
use wdq_ir::Op;

fn time<F: FnMut()>(mut f: F) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..20 {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed().as_secs_f64());
    }
    best
}

fn report(name: &str, flops: f64, secs: f64) {
    println!(
        "{name:<48} {:>8.3} ms {:>8.1} GFLOP/s",
        secs * 1e3,
        flops / secs / 1e9
    );
}

/// Name, input shape, weight shape, group, pads.
type ConvCase = (&'static str, [usize; 4], [usize; 4], i64, i64);

#[test]
#[ignore]
fn conv_and_matmul_throughput() {
    let mut rng = Lcg(1);
    let threads = rayon::current_num_threads();
    println!("rayon threads: {threads}");
    let cases: [ConvCase; 5] = [
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
    for (name, xs, ws, group, pad) in cases {
        let x = rng.tensor(&xs);
        let w = rng.tensor(&ws);
        let b = rng.tensor(&[ws[0]]);
        let attrs = ConvAttrs {
            group: Some(group),
            pads: Some(vec![pad; 4]),
            ..Default::default()
        };
        let op = Op::Conv(attrs);
        let secs = time(|| {
            run1(&op, 13, &[Some(&x), Some(&w), Some(&b)]);
        });
        let flops = 2.0 * (xs[0] * ws[0] * xs[2] * xs[3] * ws[1] * ws[2] * ws[3]) as f64;
        report(name, flops, secs);
    }
    let a = rng.tensor(&[512, 1024]);
    let b = rng.tensor(&[1024, 1024]);
    let secs = time(|| {
        run1(&Op::Gemm(GemmAttrs::default()), 13, &[Some(&a), Some(&b)]);
    });
    report("gemm 512x1024x1024", 2.0 * 512.0 * 1024.0 * 1024.0, secs);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let x = rng.tensor(&[8, 64, 32, 32]);
    let w = rng.tensor(&[64, 64, 3, 3]);
    let op = Op::Conv(ConvAttrs {
        pads: Some(vec![1; 4]),
        ..Default::default()
    });
    let secs = single.install(|| {
        time(|| {
            run1(&op, 13, &[Some(&x), Some(&w)]);
        })
    });
    report(
        "conv 64->64 3x3 on 8x64x32x32, one thread",
        2.0 * (8 * 64 * 1024 * 64 * 9) as f64,
        secs,
    );
}

#[test]
#[ignore]
fn fixture_models_per_run() {
    use ndarray_npy::NpzReader;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models");
    for name in [
        "lenet",
        "mlp",
        "mobilenet_se",
        "resnet_bn",
        "torch_style",
        "paddle_style",
    ] {
        let model = wdq_onnx::load_model(&dir.join(format!("{name}.onnx"))).unwrap();
        let plan = wdq_exec::plan::Plan::new(&model).unwrap();
        let file = std::fs::File::open(dir.join(format!("{name}.inputs.npz"))).unwrap();
        let mut npz = NpzReader::new(file).unwrap();
        let inputs: Vec<(String, wdq_exec::TensorValue)> = npz
            .names()
            .unwrap()
            .into_iter()
            .map(|n| {
                let a = npz
                    .by_name::<ndarray::OwnedRepr<f32>, ndarray::IxDyn>(&n)
                    .unwrap();
                (n, wdq_exec::TensorValue::F32(a))
            })
            .collect();
        let named: Vec<(&str, wdq_exec::TensorValue)> = inputs
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        let secs = time(|| {
            for _ in 0..100 {
                plan.run(&named).unwrap();
            }
        });
        println!("{name:<16} {:>8.1} us per run", secs * 1e4);
    }
}

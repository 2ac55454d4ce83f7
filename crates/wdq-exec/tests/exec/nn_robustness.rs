//! Compute kernels never panic on odd input: every op is fed combinations
//! of empty, scalar, high-rank and mismatched tensors and odd attributes;
//! each call must return (an error or a value), not unwind.

use crate::common::{i64s, Lcg};
use std::panic::{catch_unwind, AssertUnwindSafe};
use wdq_exec::{run_op, KernelContext, TensorValue};
use wdq_ir::op::{
    ActivationAttrs, AxisAttrs, BatchNormAttrs, ClipAttrs, ConvAttrs, GemmAttrs, LayerNormAttrs,
    PoolAttrs,
};
use wdq_ir::Op;

fn ops() -> Vec<Op> {
    let conv_variants = [
        ConvAttrs::default(),
        ConvAttrs {
            group: Some(2),
            pads: Some(vec![1; 4]),
            ..Default::default()
        },
        ConvAttrs {
            group: Some(0),
            ..Default::default()
        },
        ConvAttrs {
            strides: Some(vec![2]),
            dilations: Some(vec![-1, 2]),
            ..Default::default()
        },
        ConvAttrs {
            auto_pad: Some("SAME_LOWER".into()),
            kernel_shape: Some(vec![9, 9]),
            ..Default::default()
        },
        ConvAttrs {
            output_shape: Some(vec![1, 100]),
            output_padding: Some(vec![5, 5]),
            ..Default::default()
        },
        ConvAttrs {
            output_shape: Some(vec![1 << 30, 1 << 30]),
            ..Default::default()
        },
        ConvAttrs {
            pads: Some(vec![i64::MAX, 1 << 31, 1 << 31, 0]),
            ..Default::default()
        },
        ConvAttrs {
            pads: Some(vec![50, 50, 50, 50]),
            ..Default::default()
        },
    ];
    let pool_variants = [
        PoolAttrs::default(),
        PoolAttrs {
            kernel_shape: Some(vec![2, 2]),
            ceil_mode: Some(1),
            pads: Some(vec![1, 1, 1, 1]),
            ..Default::default()
        },
        PoolAttrs {
            kernel_shape: Some(vec![3]),
            strides: Some(vec![0]),
            ..Default::default()
        },
        PoolAttrs {
            kernel_shape: Some(vec![4, 4]),
            auto_pad: Some("SAME_UPPER".into()),
            count_include_pad: Some(1),
            ..Default::default()
        },
        PoolAttrs {
            kernel_shape: Some(vec![2, 2]),
            dilations: Some(vec![3, 3]),
            ..Default::default()
        },
    ];
    let mut ops = Vec::new();
    for a in conv_variants {
        ops.push(Op::Conv(a.clone()));
        ops.push(Op::ConvTranspose(a));
    }
    for a in pool_variants {
        ops.push(Op::MaxPool(a.clone()));
        ops.push(Op::AveragePool(a));
    }
    ops.extend([
        Op::Gemm(GemmAttrs::default()),
        Op::Gemm(GemmAttrs {
            trans_a: Some(1),
            trans_b: Some(1),
            alpha: Some(2.0),
            beta: Some(0.0),
        }),
        Op::MatMul,
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Pow,
        Op::Max,
        Op::Min,
        Op::Relu,
        Op::LeakyRelu(ActivationAttrs::default()),
        Op::PRelu,
        Op::Clip(ClipAttrs::default()),
        Op::Sigmoid,
        Op::HardSigmoid(ActivationAttrs::default()),
        Op::HardSwish,
        Op::Erf,
        Op::Gelu(ActivationAttrs {
            approximate: Some("bogus".into()),
            ..Default::default()
        }),
        Op::Log,
        Op::Reciprocal,
        Op::Softmax(AxisAttrs { axis: Some(7) }),
        Op::Softmax(AxisAttrs { axis: Some(0) }),
        Op::LogSoftmax(AxisAttrs { axis: Some(0) }),
        Op::LayerNormalization(LayerNormAttrs {
            axis: Some(0),
            ..Default::default()
        }),
        Op::Softmax(AxisAttrs::default()),
        Op::LogSoftmax(AxisAttrs { axis: Some(-1) }),
        Op::BatchNormalization(BatchNormAttrs::default()),
        Op::LayerNormalization(LayerNormAttrs {
            axis: Some(-9),
            ..Default::default()
        }),
        Op::LayerNormalization(LayerNormAttrs::default()),
        Op::GlobalAveragePool,
        Op::GlobalMaxPool,
    ]);
    ops
}

fn tensors() -> Vec<TensorValue> {
    let mut rng = Lcg(99);
    let shapes: [&[usize]; 16] = [
        &[],
        &[0],
        &[1],
        &[3],
        &[2, 0, 3],
        &[2, 3],
        &[1, 2, 5],
        &[2, 4, 5, 5],
        &[1, 1, 1, 1],
        &[0, 2, 3, 3],
        &[2, 2, 0, 4],
        &[1, 2, 3, 3, 3, 2],
        &[4, 2, 3, 3],
        &[4, 1, 3, 3],
        &[2, 2, 2],
        &[4],
    ];
    let mut out: Vec<TensorValue> = shapes.iter().map(|s| rng.tensor(s)).collect();
    out.push(i64s(&[2], vec![0, 3]));
    out.push(i64s(&[], vec![0]));
    out
}

#[test]
fn kernels_return_instead_of_panicking() {
    let tensors = tensors();
    let ctxs = [KernelContext { opset: 9 }, KernelContext { opset: 17 }];
    let mut rng = Lcg(5);
    let mut calls = 0;
    for op in ops() {
        for ctx in ctxs {
            for arity in 0..=5 {
                for _ in 0..150 {
                    let picks: Vec<Option<&TensorValue>> = (0..arity)
                        .map(|_| {
                            let i = rng.range(0, tensors.len());
                            tensors.get(i)
                        })
                        .collect();
                    let shapes: Vec<Option<&[usize]>> =
                        picks.iter().map(|p| p.map(|t| t.shape())).collect();
                    let result = catch_unwind(AssertUnwindSafe(|| run_op(&op, ctx, &picks)));
                    assert!(
                        result.is_ok(),
                        "{} (opset {}) panicked on {shapes:?}",
                        op.op_type(),
                        ctx.opset
                    );
                    calls += 1;
                }
            }
        }
    }
    assert!(calls > 1000);
}

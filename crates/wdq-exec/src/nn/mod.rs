//! Compute kernels: convolution, matrix products, pooling, normalisation,
//! activations and elementwise arithmetic (the ops that
//! [`crate::is_compute_op`] names).
//!
//! Every kernel checks ranks, sizes and attributes before it indexes, and
//! reports bad input as a [`KernelError`]. Results are deterministic: each
//! output element is computed by exactly one task, with a reduction order
//! that does not depend on the number of threads.
//!
//! Optional outputs: MaxPool returns only `Y` (its `Indices` output is
//! `None`); BatchNormalization returns only `Y` (inference form);
//! LayerNormalization returns `Y`, `Mean` and `InvStdDev`.

pub(crate) mod activation;
mod binary;
mod broadcast;
pub(crate) mod conv;
pub(crate) mod conv_transpose;
mod depthwise;
pub mod einsum;
pub(crate) mod geometry;
pub(crate) mod im2col;
pub(crate) mod lrn;
pub(crate) mod matmul;
pub(crate) mod norm;
mod parallel;
pub(crate) mod pool;
pub(crate) mod recurrent;
pub(crate) mod sgemm;
mod softmax;

use crate::{KernelContext, KernelError, KernelResult, TensorValue};
use wdq_ir::{Family, Op};

/// Runs a compute-family op.
///
/// # Errors
/// [`KernelError`] for missing or mistyped inputs, shapes that do not fit
/// the op, or attributes outside the ONNX spec; `KernelError::Unsupported`
/// for an op outside the compute family.
pub fn run(op: &Op, ctx: KernelContext, inputs: &[Option<&TensorValue>]) -> KernelResult {
    if let Some((kind, a)) = recurrent::recurrent_op(op) {
        return recurrent::run(kind, a, inputs);
    }
    match op.meta().family {
        Family::Unary => return activation::run(op, ctx, inputs),
        Family::Binary => return binary::run(op, inputs),
        _ => {}
    }
    match op {
        Op::Conv(a) => conv::conv(a, inputs),
        Op::ConvTranspose(a) => conv_transpose::conv_transpose(a, inputs),
        Op::Gemm(a) => matmul::gemm_op(a, inputs),
        Op::MatMul => matmul::matmul(inputs),
        Op::PRelu => binary::prelu(inputs),
        Op::Softmax(a) => softmax::softmax(a, ctx, inputs, false),
        Op::LogSoftmax(a) => softmax::softmax(a, ctx, inputs, true),
        Op::BatchNormalization(a) => norm::batch_norm(a, inputs),
        Op::LayerNormalization(a) => norm::layer_norm(a, inputs),
        Op::InstanceNormalization(a) => norm::group_norm(None, a.epsilon.unwrap_or(1e-5), inputs),
        Op::GroupNormalization(a) => match a.num_groups {
            Some(g) => norm::group_norm(Some(g), a.epsilon.unwrap_or(1e-5), inputs),
            None => Err(KernelError::Attribute {
                name: "num_groups",
                why: "is required".into(),
            }),
        },
        Op::LRN(a) => lrn::lrn(a, inputs),
        Op::MaxPool(a) => pool::pool(a, inputs, pool::PoolKind::Max),
        Op::AveragePool(a) => pool::pool(a, inputs, pool::PoolKind::Average),
        Op::GlobalAveragePool => pool::global_pool(inputs, pool::PoolKind::Average),
        Op::GlobalMaxPool => pool::global_pool(inputs, pool::PoolKind::Max),
        Op::Einsum(a) => einsum::einsum(a.equation.as_deref().unwrap_or_default(), inputs),
        _ => Err(KernelError::Unsupported(format!(
            "op {} in the compute kernels",
            op.op_type()
        ))),
    }
}

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

mod activation;
mod binary;
mod broadcast;
mod conv;
pub(crate) mod conv_transpose;
mod depthwise;
pub mod einsum;
pub(crate) mod geometry;
pub(crate) mod im2col;
mod matmul;
mod norm;
mod parallel;
pub(crate) mod pool;
pub(crate) mod recurrent;
pub(crate) mod sgemm;
mod softmax;

use crate::{KernelContext, KernelError, KernelResult, TensorValue};
use ndarray::{ArrayD, IxDyn};
use std::borrow::Cow;
use wdq_ir::Op;

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
    match op {
        Op::Conv(a) => conv::conv(a, inputs),
        Op::ConvTranspose(a) => conv_transpose::conv_transpose(a, inputs),
        Op::Gemm(a) => matmul::gemm_op(a, inputs),
        Op::MatMul => matmul::matmul(inputs),
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Max | Op::Min => {
            binary::run(op, inputs)
        }
        Op::PRelu => binary::prelu(inputs),
        Op::Relu
        | Op::LeakyRelu(_)
        | Op::Clip(_)
        | Op::Sigmoid
        | Op::Tanh
        | Op::HardSigmoid(_)
        | Op::HardSwish
        | Op::Erf
        | Op::Gelu(_)
        | Op::Exp
        | Op::Log
        | Op::Sqrt
        | Op::Neg
        | Op::Abs
        | Op::Floor
        | Op::Ceil
        | Op::Reciprocal => activation::run(op, ctx, inputs),
        Op::Softmax(a) => softmax::softmax(a, ctx, inputs, false),
        Op::LogSoftmax(a) => softmax::softmax(a, ctx, inputs, true),
        Op::BatchNormalization(a) => norm::batch_norm(a, inputs),
        Op::LayerNormalization(a) => norm::layer_norm(a, inputs),
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

/// Input `index`, which must be present.
pub(crate) fn input<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Result<&'a TensorValue, KernelError> {
    inputs
        .get(index)
        .copied()
        .flatten()
        .ok_or(KernelError::MissingInput { index })
}

/// Input `index` as f32, which must be present.
pub(crate) fn f32_input<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Result<&'a ArrayD<f32>, KernelError> {
    let value = input(inputs, index)?;
    value.as_f32().ok_or(KernelError::InputType {
        index,
        got: value.dtype(),
        expected: "f32",
    })
}

/// Input `index` as f32 if it is present.
pub(crate) fn optional_f32<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Result<Option<&'a ArrayD<f32>>, KernelError> {
    match inputs.get(index).copied().flatten() {
        None => Ok(None),
        Some(_) => f32_input(inputs, index).map(Some),
    }
}

/// The elements in row-major order, borrowed when the array already is.
pub(crate) fn contiguous<T: Clone>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// Wraps a row-major buffer as an array of `shape`.
pub(crate) fn array<T>(shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>, KernelError> {
    let len = data.len();
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|_| KernelError::Shape(format!("{len} elements do not fill shape {shape:?}")))
}

/// Elements of a buffer with these dims, refusing sizes no allocation could
/// hold (attributes such as huge pads or `output_shape` can ask for them).
pub(crate) fn element_count(dims: &[usize]) -> Result<usize, KernelError> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= crate::tensor_ops::elem::MAX_ELEMENTS)
        .ok_or_else(|| KernelError::Shape(format!("output of shape {dims:?} is too large")))
}

/// A one-output kernel result.
pub(crate) fn single(value: TensorValue) -> KernelResult {
    Ok(vec![Some(value)])
}

/// Resolves a possibly negative `axis` against `rank`.
pub(crate) fn resolve_axis(
    axis: i64,
    rank: usize,
    name: &'static str,
) -> Result<usize, KernelError> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        return Err(KernelError::Attribute {
            name,
            why: format!("axis {axis} is outside rank {rank}"),
        });
    }
    Ok(if axis < 0 {
        (axis + r) as usize
    } else {
        axis as usize
    })
}

/// Work below this many elements is not worth sharing out over threads.
pub(crate) const PARALLEL_MIN: usize = 1 << 15;

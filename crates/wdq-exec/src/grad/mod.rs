//! Gradient kernels: one per [`GradOp`] of the project domain (the backward
//! ops that ONNX lacks; gradients that plain ONNX ops express run through
//! the forward kernels).
//!
//! Determinism: every result is bit-identical whatever the number of rayon
//! threads. Elementwise results are computed by exactly one task each;
//! reductions over the batch (weight, bias and affine gradients) use a fixed
//! split of the batch into chunks, independent of the thread count, whose
//! partial sums are added in chunk order; sums over a channel or a row run
//! sequentially in index order.
//!
//! The sliding-window geometry and `im2col`/`col2im` are the forward
//! kernels' own modules, so both directions share one definition of the
//! arithmetic.

use crate::nn::{geometry, im2col};

mod activation;
mod conv;
mod conv_transpose;
mod loss;
mod matmul;
mod norm;
mod pool;
mod scatter;

use crate::{KernelContext, KernelError, KernelResult, TensorValue};
use wdq_ir::GradOp;

/// Runs one gradient op.
///
/// # Errors
/// [`KernelError`] for missing or mistyped inputs, shapes that do not fit
/// the forward op, or attributes outside the ONNX spec.
pub fn run(op: &GradOp, ctx: KernelContext, inputs: &[Option<&TensorValue>]) -> KernelResult {
    match op {
        GradOp::ConvGrad { conv, wanted } => conv::conv_grad(conv, *wanted, inputs),
        GradOp::ConvTransposeGrad { conv, wanted } => {
            conv_transpose::conv_transpose_grad(conv, *wanted, inputs)
        }
        GradOp::MaxPoolGrad(a) => pool::pool_grad(a, inputs, true),
        GradOp::AveragePoolGrad(a) => pool::pool_grad(a, inputs, false),
        GradOp::GlobalAveragePoolGrad => pool::global_pool_grad(inputs, false),
        GradOp::GlobalMaxPoolGrad => pool::global_pool_grad(inputs, true),
        GradOp::ActivationGrad(a) => activation::activation_grad(a, inputs),
        GradOp::PReluGrad { wanted } => activation::prelu_grad(*wanted, inputs),
        GradOp::SoftmaxGrad {
            axis,
            log,
            coerce_2d,
        } => norm::softmax_grad(*axis, *log, *coerce_2d, inputs),
        GradOp::BatchNormGrad { epsilon, wanted } => {
            norm::batch_norm_grad(*epsilon, *wanted, inputs)
        }
        GradOp::LayerNormGrad {
            axis,
            epsilon,
            wanted,
        } => norm::layer_norm_grad(*axis, *epsilon, *wanted, inputs),
        GradOp::MatMulGrad { wanted } => matmul::matmul_grad(*wanted, inputs),
        GradOp::ReduceSumTo => scatter::reduce_sum_to(inputs),
        GradOp::IndexScatterGrad {
            op,
            wrt,
            output,
            outputs,
            masked,
        } => scatter::index_scatter_grad(op, *wrt, *output, *outputs, masked, ctx, inputs),
        GradOp::SoftmaxCrossEntropy => loss::softmax_cross_entropy(inputs),
        GradOp::DistillLoss(kind) => loss::distill_loss(*kind, inputs),
    }
}

/// Fixed number of batch chunks for reductions over the batch: partial sums
/// per chunk, added in chunk order. Independent of the thread count.
pub(crate) const BATCH_CHUNKS: usize = 16;

/// The half-open sample range of chunk `c` of `chunks` over `batch` items.
pub(crate) fn chunk_range(batch: usize, chunks: usize, c: usize) -> (usize, usize) {
    (batch * c / chunks, batch * (c + 1) / chunks)
}

/// Checks that `got` equals `want`, naming the operand.
pub(crate) fn expect_shape(got: &[usize], want: &[usize], what: &str) -> Result<(), KernelError> {
    if got == want {
        Ok(())
    } else {
        Err(KernelError::Shape(format!(
            "{what} has shape {got:?}, expected {want:?}"
        )))
    }
}

/// Wraps an optional f32 buffer of `shape` as an output slot.
pub(crate) fn slot(
    shape: &[usize],
    data: Option<Vec<f32>>,
) -> Result<Option<TensorValue>, KernelError> {
    data.map(|d| crate::kit::array(shape, d).map(TensorValue::F32))
        .transpose()
}

//! Routes one node to its kernel family. Families: [`crate::nn`] (compute
//! kernels: convolution, matrix products, pooling, normalisation,
//! activations, elementwise arithmetic) and [`crate::tensor_ops`] (data
//! movement, shape math, comparisons, casts, reductions, resize,
//! quantize/dequantize, constants).

use crate::{KernelError, TensorValue};
use wdq_ir::Op;

/// What a kernel sees besides its inputs.
#[derive(Clone, Copy, Debug)]
pub struct KernelContext {
    /// Version of the default ONNX domain the model imports (attribute
    /// defaults and semantics that changed between opsets depend on it).
    pub opset: i64,
}

/// Result of one kernel: one value per node output slot (`None` for an
/// optional output the kernel does not produce).
pub type KernelResult = Result<Vec<Option<TensorValue>>, KernelError>;

/// Whether `op` belongs to the compute family ([`crate::nn`]).
pub fn is_compute_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::Gemm(_)
            | Op::MatMul
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Pow
            | Op::Max
            | Op::Min
            | Op::Relu
            | Op::LeakyRelu(_)
            | Op::PRelu
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
            | Op::Reciprocal
            | Op::Softmax(_)
            | Op::LogSoftmax(_)
            | Op::BatchNormalization(_)
            | Op::LayerNormalization(_)
            | Op::MaxPool(_)
            | Op::AveragePool(_)
            | Op::GlobalAveragePool
            | Op::GlobalMaxPool
            | Op::LSTM(_)
            | Op::GRU(_)
            | Op::RNN(_)
            | Op::Einsum(_)
    )
}

/// Runs one op on its inputs (`None` for an omitted optional input).
///
/// # Errors
/// [`KernelError`] for inputs or attributes the kernel cannot handle;
/// `KernelError::Unsupported` for opaque ops.
pub fn run_op(op: &Op, ctx: KernelContext, inputs: &[Option<&TensorValue>]) -> KernelResult {
    run_node(op, ctx, inputs, None)
}

/// Like [`run_op`] for a node with `outputs` output slots, for the ops
/// whose result depends on it (an equal `Split` without sizes).
///
/// # Errors
/// As [`run_op`].
pub fn run_node(
    op: &Op,
    ctx: KernelContext,
    inputs: &[Option<&TensorValue>],
    outputs: Option<usize>,
) -> KernelResult {
    if let Op::Grad(g) = op {
        return crate::grad::run(g, ctx, inputs);
    }
    if let Op::Opaque {
        domain, op_type, ..
    } = op
    {
        return Err(KernelError::Unsupported(format!("op {domain}::{op_type}")));
    }
    if is_compute_op(op) {
        crate::nn::run(op, ctx, inputs)
    } else {
        crate::tensor_ops::run_with_outputs(op, ctx, inputs, outputs)
    }
}

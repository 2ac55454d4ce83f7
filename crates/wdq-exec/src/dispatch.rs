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

/// Whether `op` belongs to the compute family ([`crate::nn`]), as its
/// metadata row says ([`wdq_ir::OpMeta::is_compute`]).
pub fn is_compute_op(op: &Op) -> bool {
    op.meta().is_compute()
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
    check_arity(op, inputs)?;
    if is_compute_op(op) {
        crate::nn::run(op, ctx, inputs)
    } else {
        crate::tensor_ops::run_with_outputs(op, ctx, inputs, outputs)
    }
}

/// Refuses more inputs than the op's row allows, and a missing required one.
fn check_arity(op: &Op, inputs: &[Option<&TensorValue>]) -> Result<(), KernelError> {
    let arity = op.meta().inputs;
    if inputs.len() > arity.max {
        return Err(KernelError::Arity {
            got: inputs.len(),
            expected: arity.to_string(),
        });
    }
    match (0..arity.min).find(|&i| inputs.get(i).copied().flatten().is_none()) {
        Some(index) => Err(KernelError::MissingInput { index }),
        None => Ok(()),
    }
}

//! Compute kernels (being written).
use crate::{KernelContext, KernelError, KernelResult, TensorValue};
use wdq_ir::Op;

/// Runs a compute-family op.
pub fn run(op: &Op, _ctx: KernelContext, _inputs: &[Option<&TensorValue>]) -> KernelResult {
    Err(KernelError::Unsupported(op.op_type().to_string()))
}

//! Rules for LSTM, GRU and RNN: one [`GradOp::RecurrentGrad`] node
//! (backward through time) computes every wanted input gradient from the
//! forward operands and the gradients of `Y`, `Y_h` and `Y_c`.

use super::{Ctx, Grads};
use crate::AutodiffError;
use wdq_ir::{GradOp, Op};

/// Forward input slots of the recurrent ops.
const SLOTS: usize = 8;
/// The `sequence_lens` slot, which is not differentiable.
const SEQUENCE_LENS: usize = 4;

/// The rule for `ctx.node`, or `None` when the op is not recurrent.
pub(super) fn apply(ctx: &mut Ctx<'_, '_>) -> Result<Option<Grads>, AutodiffError> {
    if !matches!(ctx.node.op, Op::LSTM(_) | Op::GRU(_) | Op::RNN(_)) {
        return Ok(None);
    }
    if ctx.wants(SEQUENCE_LENS) {
        return Err(ctx.unsupported(SEQUENCE_LENS, "sequence lengths are integers"));
    }
    let mut inputs: Vec<Option<_>> = (0..SLOTS).map(|s| ctx.node.input(s)).collect();
    inputs.extend((0..3).map(|s| ctx.dy.get(s).copied().flatten()));
    let wanted: Vec<bool> = (0..SLOTS).map(|s| ctx.wants(s)).collect();
    let op = GradOp::RecurrentGrad {
        op: Box::new(ctx.node.op.clone()),
        wanted: wanted.clone(),
    };
    let outs = ctx.grad_multi(op, inputs, &wanted);
    let mut g = ctx.none();
    for (slot, out) in g.iter_mut().zip(outs) {
        *slot = out;
    }
    Ok(Some(g))
}

//! The Einsum rule: the gradient of an operand is itself an Einsum of the
//! output gradient and the other operand onto the operand's labels; labels
//! summed within the operand alone are restored by Unsqueeze and Expand to
//! the operand's shape.

use super::{Ctx, Grads};
use crate::AutodiffError;
use wdq_ir::einsum::{Equation, Label};
use wdq_ir::op::{EinsumAttrs, ShapeAttrs};
use wdq_ir::Op;

/// The rule for `ctx.node`, or `None` when the op is not Einsum.
pub(super) fn apply(ctx: &mut Ctx<'_, '_>) -> Result<Option<Grads>, AutodiffError> {
    let Op::Einsum(a) = &ctx.node.op else {
        return Ok(None);
    };
    let text = a.equation.clone().unwrap_or_default();
    let eq = Equation::parse(&text).map_err(|e| ctx.non_differentiable(&e.to_string()))?;
    let dy = ctx.dy0()?;
    let mut grads = ctx.none();
    for slot in 0..eq.inputs.len() {
        if !ctx.wants(slot) {
            continue;
        }
        let mine = &eq.inputs[slot];
        let others: Vec<usize> = (0..eq.inputs.len()).filter(|&o| o != slot).collect();
        let seen =
            |l: &Label| eq.output.contains(l) || others.iter().any(|&o| eq.inputs[o].contains(l));
        let kept: Vec<Label> = mine.iter().copied().filter(seen).collect();
        if mine.contains(&Label::Ellipsis) && !kept.contains(&Label::Ellipsis) {
            return Err(ctx.unsupported(slot, "the `...` axes are summed away"));
        }
        let mut terms = vec![eq.output.clone()];
        terms.extend(others.iter().map(|&o| eq.inputs[o].clone()));
        let back = Equation {
            inputs: terms,
            output: kept.clone(),
        };
        let mut operands = vec![dy];
        for &o in &others {
            operands.push(ctx.x(o)?);
        }
        let attrs = EinsumAttrs {
            equation: Some(back.text()),
        };
        let mut g = ctx.op(Op::Einsum(attrs), &operands);
        if kept.len() != mine.len() {
            // Axes of the summed labels: from the front before `...`, from
            // the back after it.
            let after = mine.iter().position(|l| *l == Label::Ellipsis);
            let axes: Vec<i64> = mine
                .iter()
                .enumerate()
                .filter(|(_, l)| !seen(l))
                .map(|(i, _)| match after {
                    Some(e) if i > e => i as i64 - mine.len() as i64,
                    _ => i as i64,
                })
                .collect();
            g = ctx.unsqueeze(g, &axes);
            let x = ctx.x(slot)?;
            let shape = ctx.op(Op::Shape(ShapeAttrs::default()), &[x]);
            g = ctx.op(Op::Expand, &[g, shape]);
        }
        grads[slot] = Some(g);
    }
    Ok(Some(grads))
}

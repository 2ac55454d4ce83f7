//! Rules for elementwise arithmetic with numpy broadcasting (Add, Sub, Mul,
//! Div, Pow, Mod, Max, Min, Sum, Mean, Where) and the smooth unary math ops (Exp, Log, Sqrt,
//! Neg, Reciprocal), written with plain ONNX ops. Every operand's gradient
//! is summed back to its own shape with [`GradOp::ReduceSumTo`].

use super::{Ctx, Grads};
use crate::AutodiffError;
use wdq_ir::op::CastAttrs;
use wdq_ir::{DType, GradOp, Op, ValueId};

/// `g` summed back to the shape of input `slot`.
fn to_operand(ctx: &mut Ctx<'_, '_>, g: ValueId, slot: usize) -> Result<ValueId, AutodiffError> {
    let x = ctx.x(slot)?;
    Ok(ctx.grad(GradOp::ReduceSumTo, &[g, x]))
}

fn zero(ctx: &mut Ctx<'_, '_>) -> ValueId {
    let hint = format!("{}.zero", ctx.label);
    ctx.b.scalar(&hint, 0.0)
}

/// The rule for `ctx.node`, or `None` when this family does not own the op.
pub(super) fn apply(ctx: &mut Ctx<'_, '_>) -> Result<Option<Grads>, AutodiffError> {
    let op = ctx.node.op.clone();
    let mut g = ctx.none();
    match op {
        Op::Add | Op::Sub => {
            let dy = ctx.dy0()?;
            if ctx.wants(0) {
                g[0] = Some(to_operand(ctx, dy, 0)?);
            }
            if ctx.wants(1) {
                let d = if matches!(op, Op::Sub) {
                    ctx.op(Op::Neg, &[dy])
                } else {
                    dy
                };
                g[1] = Some(to_operand(ctx, d, 1)?);
            }
        }
        Op::Mul => {
            let dy = ctx.dy0()?;
            for (slot, other) in [(0, 1), (1, 0)] {
                if ctx.wants(slot) {
                    let o = ctx.x(other)?;
                    let d = ctx.op(Op::Mul, &[dy, o]);
                    g[slot] = Some(to_operand(ctx, d, slot)?);
                }
            }
        }
        Op::Div => {
            let dy = ctx.dy0()?;
            let b = ctx.x(1)?;
            if ctx.wants(0) {
                let d = ctx.op(Op::Div, &[dy, b]);
                g[0] = Some(to_operand(ctx, d, 0)?);
            }
            if ctx.wants(1) {
                // d/db (a / b) = -y / b
                let y = ctx.y(0)?;
                let t = ctx.op(Op::Mul, &[dy, y]);
                let t = ctx.op(Op::Div, &[t, b]);
                let d = ctx.op(Op::Neg, &[t]);
                g[1] = Some(to_operand(ctx, d, 1)?);
            }
        }
        Op::Pow => {
            let dy = ctx.dy0()?;
            let (a, e) = (ctx.x(0)?, ctx.x(1)?);
            let cast = Op::Cast(CastAttrs {
                to: Some(DType::F32 as i64),
                saturate: None,
            });
            let ef = ctx.op(cast, &[e]);
            if ctx.wants(0) {
                let one = ctx.b.scalar(&format!("{}.one", ctx.label), 1.0);
                let em1 = ctx.op(Op::Sub, &[ef, one]);
                let p = ctx.op(Op::Pow, &[a, em1]);
                let t = ctx.op(Op::Mul, &[p, ef]);
                let d = ctx.op(Op::Mul, &[dy, t]);
                g[0] = Some(to_operand(ctx, d, 0)?);
            }
            if ctx.wants(1) {
                let y = ctx.y(0)?;
                let l = ctx.op(Op::Log, &[a]);
                let t = ctx.op(Op::Mul, &[y, l]);
                let d = ctx.op(Op::Mul, &[dy, t]);
                g[1] = Some(to_operand(ctx, d, 1)?);
            }
        }
        Op::Max | Op::Min => {
            // The gradient goes to the operands equal to the result; tied
            // operands share it equally.
            let (dy, y) = (ctx.dy0()?, ctx.y(0)?);
            let cast = Op::Cast(CastAttrs {
                to: Some(DType::F32 as i64),
                saturate: None,
            });
            let mut masks = Vec::new();
            for slot in 0..ctx.node.inputs.len() {
                let x = ctx.x(slot)?;
                let hit = ctx.op(Op::Equal, &[x, y]);
                masks.push(ctx.op(cast.clone(), &[hit]));
            }
            let ties = ctx.op(Op::Sum, &masks);
            let share = ctx.op(Op::Div, &[dy, ties]);
            for (slot, &mask) in masks.iter().enumerate() {
                if ctx.wants(slot) {
                    let d = ctx.op(Op::Mul, &[mask, share]);
                    g[slot] = Some(to_operand(ctx, d, slot)?);
                }
            }
        }
        Op::Sum | Op::Mean => {
            let dy = ctx.dy0()?;
            let d = if matches!(op, Op::Mean) {
                let n = ctx.node.inputs.len() as f32;
                let k = ctx.b.scalar(&format!("{}.inv_n", ctx.label), 1.0 / n);
                ctx.op(Op::Mul, &[dy, k])
            } else {
                dy
            };
            for slot in 0..ctx.node.inputs.len() {
                if ctx.wants(slot) {
                    g[slot] = Some(to_operand(ctx, d, slot)?);
                }
            }
        }
        Op::Mod(_) => {
            // y = a - b * q with q = trunc(a / b) (fmod) or floor(a / b),
            // constant almost everywhere: dy/da = 1, dy/db = -q = (y - a) / b.
            let dy = ctx.dy0()?;
            if ctx.wants(0) {
                g[0] = Some(to_operand(ctx, dy, 0)?);
            }
            if ctx.wants(1) {
                let (a, b, y) = (ctx.x(0)?, ctx.x(1)?, ctx.y(0)?);
                let t = ctx.op(Op::Sub, &[y, a]);
                let q = ctx.op(Op::Div, &[t, b]);
                let d = ctx.op(Op::Mul, &[dy, q]);
                g[1] = Some(to_operand(ctx, d, 1)?);
            }
        }
        Op::Where => {
            ctx.only_slots(&[1, 2], "the condition carries no gradient")?;
            let (dy, cond) = (ctx.dy0()?, ctx.x(0)?);
            let z = zero(ctx);
            if ctx.wants(1) {
                let d = ctx.op(Op::Where, &[cond, dy, z]);
                g[1] = Some(to_operand(ctx, d, 1)?);
            }
            if ctx.wants(2) {
                let d = ctx.op(Op::Where, &[cond, z, dy]);
                g[2] = Some(to_operand(ctx, d, 2)?);
            }
        }
        Op::Exp => {
            let (dy, y) = (ctx.dy0()?, ctx.y(0)?);
            g[0] = Some(ctx.op(Op::Mul, &[dy, y]));
        }
        Op::Log => {
            let (dy, x) = (ctx.dy0()?, ctx.x(0)?);
            g[0] = Some(ctx.op(Op::Div, &[dy, x]));
        }
        Op::Sqrt => {
            let (dy, y) = (ctx.dy0()?, ctx.y(0)?);
            let two_y = ctx.op(Op::Add, &[y, y]);
            g[0] = Some(ctx.op(Op::Div, &[dy, two_y]));
        }
        Op::Neg => {
            let dy = ctx.dy0()?;
            g[0] = Some(ctx.op(Op::Neg, &[dy]));
        }
        Op::Reciprocal => {
            let (dy, y) = (ctx.dy0()?, ctx.y(0)?);
            let y2 = ctx.op(Op::Mul, &[y, y]);
            let t = ctx.op(Op::Mul, &[dy, y2]);
            g[0] = Some(ctx.op(Op::Neg, &[t]));
        }
        _ => return Ok(None),
    }
    Ok(Some(g))
}

//! Rules for data movement, shape changes and reductions, and for the ops
//! whose gradient is the identity (Identity, Dropout in inference, float
//! Cast, and QuantizeLinear / DequantizeLinear, which are straight-through).
//!
//! Reshape-like ops reshape the gradient to `Shape(x)`; Transpose applies
//! the inverse permutation; ReduceSum / ReduceMean expand the gradient back,
//! ReduceMax / ReduceMin send it to the elements equal to the result (ties
//! share it equally), ReduceL2 scales it by `X / Y`;
//! linear Resize has its own adjoint ([`GradOp::ResizeLinearGrad`]);
//! every other pure data-movement op (nearest Resize included) uses
//! [`GradOp::IndexScatterGrad`], which replays the forward op on element
//! indices.

use super::{Ctx, Grads};
use crate::AutodiffError;
use wdq_ir::op::{CastAttrs, ReduceAttrs, ReshapeAttrs, ShapeAttrs, TransposeAttrs};
use wdq_ir::{DType, GradOp, Op, ValueId};

/// The rule for `ctx.node`, or `None` when this family does not own the op.
pub(super) fn apply(ctx: &mut Ctx<'_, '_>) -> Result<Option<Grads>, AutodiffError> {
    let op = ctx.node.op.clone();
    let g = match &op {
        Op::Identity | Op::Dropout(_) | Op::QuantizeLinear(_) | Op::DequantizeLinear(_) => {
            ctx.only_slots(&[0], "quantization parameters are not trained")?;
            let dy = ctx.dy0()?;
            ctx.only(0, dy)
        }
        Op::Cast(a) => {
            let to =
                a.to.and_then(|t| i32::try_from(t).ok())
                    .and_then(DType::from_onnx);
            if to != Some(DType::F32) {
                return Err(ctx.non_differentiable("a cast to a non-f32 type"));
            }
            let dy = ctx.dy0()?;
            ctx.only(0, dy)
        }
        Op::Reshape(_) | Op::Flatten(_) | Op::Squeeze(_) | Op::Unsqueeze(_) => {
            ctx.only_slots(&[0], "shape operands carry no gradient")?;
            let (dy, x) = (ctx.dy0()?, ctx.x(0)?);
            let shape = ctx.op(Op::Shape(ShapeAttrs::default()), &[x]);
            let g = ctx.op(Op::Reshape(ReshapeAttrs::default()), &[dy, shape]);
            ctx.only(0, g)
        }
        Op::Transpose(a) => {
            let dy = ctx.dy0()?;
            let inverse = a.perm.as_ref().map(|perm| {
                let mut inv = vec![0i64; perm.len()];
                for (i, &p) in perm.iter().enumerate() {
                    if let Some(slot) = usize::try_from(p).ok().and_then(|p| inv.get_mut(p)) {
                        *slot = i as i64;
                    }
                }
                inv
            });
            let g = ctx.op(Op::Transpose(TransposeAttrs { perm: inverse }), &[dy]);
            ctx.only(0, g)
        }
        Op::ReduceSum(a) => reduce(ctx, a, Reduced::Sum)?,
        Op::ReduceMean(a) => reduce(ctx, a, Reduced::Mean)?,
        Op::ReduceMax(a) | Op::ReduceMin(a) => reduce(ctx, a, Reduced::Extremum)?,
        Op::ReduceL2(a) => reduce(ctx, a, Reduced::L2)?,
        Op::Expand => {
            ctx.only_slots(&[0], "shape operands carry no gradient")?;
            let (dy, x) = (ctx.dy0()?, ctx.x(0)?);
            let g = ctx.grad(GradOp::ReduceSumTo, &[dy, x]);
            ctx.only(0, g)
        }
        Op::Resize(a) if a.mode.as_deref() == Some("linear") => {
            ctx.only_slots(&[0], "roi, scales and sizes carry no gradient")?;
            let mut inputs = vec![Some(ctx.dy0()?)];
            inputs.extend(ctx.node.inputs.iter().copied());
            let hint = ctx.label.clone();
            let g = ctx
                .b
                .one_opt(&hint, Op::Grad(GradOp::ResizeLinearGrad(a.clone())), inputs);
            ctx.only(0, g)
        }
        Op::Resize(a) if a.mode.as_deref().unwrap_or("nearest") != "nearest" => {
            return Err(ctx.non_differentiable("cubic Resize has no gradient rule"))
        }
        Op::Concat(_)
        | Op::Split(_)
        | Op::Slice(_)
        | Op::Pad(_)
        | Op::Gather(_)
        | Op::Tile
        | Op::Resize(_) => scatter(ctx, &op)?,
        _ => return Ok(None),
    };
    Ok(Some(g))
}

/// Data inputs of a movement op (the others are indices, shapes, pads).
fn data_slots(op: &Op, inputs: usize) -> Vec<usize> {
    match op {
        Op::Concat(_) => (0..inputs).collect(),
        _ => vec![0],
    }
}

fn scatter(ctx: &mut Ctx<'_, '_>, op: &Op) -> Result<Grads, AutodiffError> {
    let n_in = ctx.node.inputs.len();
    let data = data_slots(op, n_in);
    ctx.only_slots(&data, "only the data operand carries a gradient")?;
    let mut g = ctx.none();
    for &wrt in &data {
        if !ctx.wants(wrt) {
            continue;
        }
        let mut masked: Vec<usize> = data.iter().copied().filter(|&s| s != wrt).collect();
        if matches!(op, Op::Pad(_)) && ctx.node.input(2).is_some() {
            masked.push(2);
        }
        let mut total: Option<ValueId> = None;
        for (output, dy) in ctx.dy.clone().into_iter().enumerate() {
            let Some(dy) = dy else { continue };
            let grad = GradOp::IndexScatterGrad {
                op: Box::new(op.clone()),
                wrt,
                output,
                outputs: ctx.node.outputs.len(),
                masked: masked.clone(),
            };
            let mut inputs = vec![Some(dy)];
            inputs.extend(ctx.node.inputs.iter().copied());
            let hint = ctx.label.clone();
            let part = ctx.b.one_opt(&hint, Op::Grad(grad), inputs);
            total = Some(match total {
                None => part,
                Some(t) => ctx.op(Op::Add, &[t, part]),
            });
        }
        g[wrt] = total;
    }
    Ok(g)
}

/// The reduced axes of a ReduceSum / ReduceMean, read statically: the
/// attribute, or a constant `axes` input. `None`: every axis.
fn reduce_axes(ctx: &Ctx<'_, '_>, a: &ReduceAttrs) -> Result<Option<Vec<i64>>, AutodiffError> {
    if let Some(axes) = &a.axes {
        return Ok((!axes.is_empty()).then(|| axes.clone()));
    }
    match ctx.node.input(1) {
        None => Ok(None),
        Some(v) => {
            let t = ctx.b.graph.resolve_const(v).map(|(_, t)| t);
            match t.and_then(|t| t.to_i64_vec()) {
                Some(axes) => Ok((!axes.is_empty()).then_some(axes)),
                None => Err(ctx.unsupported(1, "reduction axes must be constant")),
            }
        }
    }
}

/// `v` (a reduction's output or its gradient) with the reduced axes kept
/// as ones, so that it broadcasts against the input.
fn kept(ctx: &mut Ctx<'_, '_>, v: ValueId, axes: &Option<Vec<i64>>, keep: bool) -> ValueId {
    match (axes, keep) {
        (Some(axes), false) => ctx.unsqueeze(v, axes),
        _ => v,
    }
}

/// `ReduceSum(v)` over `axes` (all when `None`), the axes kept.
fn sum_kept(ctx: &mut Ctx<'_, '_>, v: ValueId, axes: &Option<Vec<i64>>) -> ValueId {
    let attrs = ReduceAttrs {
        keepdims: Some(1),
        axes: if ctx.opset < 13 { axes.clone() } else { None },
        noop_with_empty_axes: None,
    };
    match (axes, ctx.opset >= 13) {
        (Some(axes), true) => {
            let c = ctx.b.ints(&format!("{}.axes", ctx.label), axes);
            ctx.op(Op::ReduceSum(attrs), &[v, c])
        }
        _ => ctx.op(Op::ReduceSum(attrs), &[v]),
    }
}

/// The gradient rule of a reduction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reduced {
    Sum,
    Mean,
    /// ReduceMax and ReduceMin: the gradient goes to the elements equal to
    /// the result, shared equally between ties.
    Extremum,
    /// ReduceL2: `dX = dY * X / Y`.
    L2,
}

fn reduce(ctx: &mut Ctx<'_, '_>, a: &ReduceAttrs, how: Reduced) -> Result<Grads, AutodiffError> {
    ctx.only_slots(&[0], "reduction axes carry no gradient")?;
    let (dy, x) = (ctx.dy0()?, ctx.x(0)?);
    let axes = reduce_axes(ctx, a)?;
    if axes.is_none() && a.noop_with_empty_axes.unwrap_or(0) != 0 {
        return Ok(ctx.only(0, dy));
    }
    let keep = a.keepdims.unwrap_or(1) != 0;
    let dy_kept = kept(ctx, dy, &axes, keep);
    let g = match how {
        Reduced::Sum | Reduced::Mean => {
            let shape = ctx.op(Op::Shape(ShapeAttrs::default()), &[x]);
            let spread = if how == Reduced::Mean {
                // Divide by the count of reduced elements: ReduceSum of ones.
                let one = ctx.b.scalar(&format!("{}.one", ctx.label), 1.0);
                let ones = ctx.op(Op::Expand, &[one, shape]);
                let count = sum_kept(ctx, ones, &axes);
                ctx.op(Op::Div, &[dy_kept, count])
            } else {
                dy_kept
            };
            ctx.op(Op::Expand, &[spread, shape])
        }
        Reduced::Extremum => {
            let y = ctx.y(0)?;
            let y_kept = kept(ctx, y, &axes, keep);
            let hit = ctx.op(Op::Equal, &[x, y_kept]);
            let cast = Op::Cast(CastAttrs {
                to: Some(DType::F32 as i64),
                saturate: None,
            });
            let mask = ctx.op(cast, &[hit]);
            let ties = sum_kept(ctx, mask, &axes);
            let share = ctx.op(Op::Div, &[dy_kept, ties]);
            ctx.op(Op::Mul, &[mask, share])
        }
        Reduced::L2 => {
            let y = ctx.y(0)?;
            let y_kept = kept(ctx, y, &axes, keep);
            let ratio = ctx.op(Op::Div, &[dy_kept, y_kept]);
            ctx.op(Op::Mul, &[x, ratio])
        }
    };
    Ok(ctx.only(0, g))
}

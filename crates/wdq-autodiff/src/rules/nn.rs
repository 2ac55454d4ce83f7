//! Rules for the layer and activation ops: Conv, ConvTranspose, Gemm,
//! MatMul, pooling, BatchNormalization (frozen statistics),
//! LayerNormalization, Softmax / LogSoftmax and the activations.

use super::{Ctx, Grads};
use crate::AutodiffError;
use wdq_ir::grad_op::{Activation, Wanted};
use wdq_ir::op::GemmAttrs;
use wdq_ir::{GradOp, Op, ValueId};

fn wanted3(ctx: &Ctx<'_, '_>, slots: [usize; 3]) -> Wanted {
    Wanted(slots.map(|s| ctx.wants(s)))
}

/// Spreads a multi-output gradient op's outputs to input slots.
fn spread(ctx: &Ctx<'_, '_>, outs: &[Option<ValueId>], slots: &[usize]) -> Grads {
    let mut g = ctx.none();
    for (o, &s) in outs.iter().zip(slots) {
        if let Some(entry) = g.get_mut(s) {
            *entry = *o;
        }
    }
    g
}

/// The rule for `ctx.node`, or `None` when this family does not own the op.
pub(super) fn apply(ctx: &mut Ctx<'_, '_>) -> Result<Option<Grads>, AutodiffError> {
    let op = ctx.node.op.clone();
    let g = match &op {
        Op::Conv(a) | Op::ConvTranspose(a) => {
            let dy = ctx.dy0()?;
            let (x, w) = (ctx.x(0)?, ctx.x(1)?);
            let wanted = wanted3(ctx, [0, 1, 2]);
            let grad = if matches!(op, Op::Conv(_)) {
                GradOp::ConvGrad {
                    conv: a.clone(),
                    wanted,
                }
            } else {
                GradOp::ConvTransposeGrad {
                    conv: a.clone(),
                    wanted,
                }
            };
            let outs = ctx.grad_multi(grad, vec![Some(dy), Some(x), Some(w)], &wanted.0);
            spread(ctx, &outs, &[0, 1, 2])
        }
        Op::Gemm(a) => gemm(ctx, a)?,
        Op::MatMul => {
            let dy = ctx.dy0()?;
            let (a, b) = (ctx.x(0)?, ctx.x(1)?);
            let wanted = [ctx.wants(0), ctx.wants(1), false];
            let outs = ctx.grad_multi(
                GradOp::MatMulGrad {
                    wanted: Wanted(wanted),
                },
                vec![Some(dy), Some(a), Some(b)],
                &wanted[..2],
            );
            spread(ctx, &outs, &[0, 1])
        }
        Op::MaxPool(a) | Op::AveragePool(a) => {
            ctx.only_slots(
                &[0],
                "pooling is differentiated with respect to its data only",
            )?;
            let (dy, x) = (ctx.dy0()?, ctx.x(0)?);
            let grad = if matches!(op, Op::MaxPool(_)) {
                GradOp::MaxPoolGrad(a.clone())
            } else {
                GradOp::AveragePoolGrad(a.clone())
            };
            let g = ctx.grad(grad, &[dy, x]);
            ctx.only(0, g)
        }
        Op::GlobalAveragePool | Op::GlobalMaxPool => {
            let (dy, x) = (ctx.dy0()?, ctx.x(0)?);
            let grad = if matches!(op, Op::GlobalMaxPool) {
                GradOp::GlobalMaxPoolGrad
            } else {
                GradOp::GlobalAveragePoolGrad
            };
            let g = ctx.grad(grad, &[dy, x]);
            ctx.only(0, g)
        }
        Op::BatchNormalization(a) => {
            if a.training_mode == Some(1) {
                return Err(ctx.non_differentiable("training-mode BatchNormalization"));
            }
            ctx.only_slots(&[0, 1, 2], "running statistics are frozen")?;
            let dy = ctx.dy0()?;
            let ins: Vec<_> = (0..5).map(|i| ctx.x(i)).collect::<Result<_, _>>()?;
            let wanted = wanted3(ctx, [0, 1, 2]);
            let grad = GradOp::BatchNormGrad {
                epsilon: a.epsilon.unwrap_or(1e-5),
                wanted,
            };
            let inputs = vec![
                Some(dy),
                Some(ins[0]),
                Some(ins[1]),
                Some(ins[3]),
                Some(ins[4]),
            ];
            let outs = ctx.grad_multi(grad, inputs, &wanted.0);
            spread(ctx, &outs, &[0, 1, 2])
        }
        Op::LayerNormalization(a) => {
            let dy = ctx.dy0()?;
            let (x, scale) = (ctx.x(0)?, ctx.x(1)?);
            let wanted = wanted3(ctx, [0, 1, 2]);
            let grad = GradOp::LayerNormGrad {
                axis: a.axis.unwrap_or(-1),
                epsilon: a.epsilon.unwrap_or(1e-5),
                wanted,
            };
            let outs = ctx.grad_multi(grad, vec![Some(dy), Some(x), Some(scale)], &wanted.0);
            spread(ctx, &outs, &[0, 1, 2])
        }
        Op::Softmax(a) | Op::LogSoftmax(a) => {
            let (dy, y) = (ctx.dy0()?, ctx.y(0)?);
            let legacy = ctx.opset < 13;
            let grad = GradOp::SoftmaxGrad {
                axis: a.axis.unwrap_or(if legacy { 1 } else { -1 }),
                log: matches!(op, Op::LogSoftmax(_)),
                coerce_2d: legacy,
            };
            let g = ctx.grad(grad, &[dy, y]);
            ctx.only(0, g)
        }
        Op::PRelu => {
            let dy = ctx.dy0()?;
            let (x, slope) = (ctx.x(0)?, ctx.x(1)?);
            let wanted = [ctx.wants(0), ctx.wants(1), false];
            let outs = ctx.grad_multi(
                GradOp::PReluGrad {
                    wanted: Wanted(wanted),
                },
                vec![Some(dy), Some(x), Some(slope)],
                &wanted[..2],
            );
            spread(ctx, &outs, &[0, 1])
        }
        _ => return Ok(None),
    };
    Ok(Some(g))
}

/// The rule of an elementwise activation: `dX = dY * f'(X)` by
/// [`GradOp::ActivationGrad`], the derivative named by [`Activation::of`].
pub(super) fn activation_rule(ctx: &mut Ctx<'_, '_>) -> Result<Grads, AutodiffError> {
    let act = Activation::of(&ctx.node.op, ctx.opset)
        .ok_or_else(|| ctx.non_differentiable("no derivative is known"))?;
    ctx.only_slots(&[0], "activation bounds and parameters are not trained")?;
    let (dy, x) = (ctx.dy0()?, ctx.x(0)?);
    let mut inputs = vec![Some(dy), Some(x)];
    if matches!(
        act,
        Activation::Clip {
            min: None,
            max: None
        }
    ) {
        inputs.push(ctx.node.input(1));
        inputs.push(ctx.node.input(2));
    }
    let g = ctx.b.one_opt(
        &ctx.label.clone(),
        Op::Grad(GradOp::ActivationGrad(act)),
        inputs,
    );
    Ok(ctx.only(0, g))
}

/// Gemm: `Y = alpha * A' * B' + beta * C` with `A' = transA ? A^T : A`.
fn gemm(ctx: &mut Ctx<'_, '_>, a: &GemmAttrs) -> Result<Grads, AutodiffError> {
    let dy = ctx.dy0()?;
    let (ta, tb) = (a.trans_a.unwrap_or(0) != 0, a.trans_b.unwrap_or(0) != 0);
    let (alpha, beta) = (a.alpha.unwrap_or(1.0), a.beta.unwrap_or(1.0));
    let (xa, xb) = (ctx.x(0)?, ctx.x(1)?);
    let gemm = |lhs_t: bool, rhs_t: bool| {
        Op::Gemm(GemmAttrs {
            alpha: (alpha != 1.0).then_some(alpha),
            beta: None,
            trans_a: lhs_t.then_some(1),
            trans_b: rhs_t.then_some(1),
        })
    };
    let mut g = ctx.none();
    if ctx.wants(0) {
        g[0] = Some(if ta {
            ctx.op(gemm(tb, true), &[xb, dy])
        } else {
            ctx.op(gemm(false, !tb), &[dy, xb])
        });
    }
    if ctx.wants(1) {
        g[1] = Some(if tb {
            ctx.op(gemm(true, ta), &[dy, xa])
        } else {
            ctx.op(gemm(!ta, false), &[xa, dy])
        });
    }
    if ctx.wants(2) {
        let c = ctx.x(2)?;
        let scaled = if beta != 1.0 {
            let k = ctx.b.scalar(&format!("{}.beta", ctx.label), beta);
            ctx.op(Op::Mul, &[dy, k])
        } else {
            dy
        };
        g[2] = Some(ctx.grad(GradOp::ReduceSumTo, &[scaled, c]));
    }
    Ok(g)
}

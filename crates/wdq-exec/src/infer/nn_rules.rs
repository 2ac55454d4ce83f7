//! Shape and type rules of the compute family: convolutions and pooling
//! (the kernels' own shape checks and window geometry), Gemm, MatMul,
//! elementwise broadcasting, activations and normalisations.

use super::{Fact, Operand};
use crate::nn::matmul::MatMulDims;
use crate::nn::{conv, conv_transpose, pool};
use crate::tensor_ops::broadcast_shapes;
use crate::KernelError;
use wdq_ir::op::GemmAttrs;
use wdq_ir::{DType, Op, ShapeRule};

/// Output facts of a compute-family op.
///
/// # Errors
/// [`KernelError`] on contradictions (channel, inner-dimension or broadcast mismatches).
pub(crate) fn facts(op: &Op, ins: &[Operand<'_>], n_out: usize) -> Result<Vec<Fact>, KernelError> {
    let d0 = ins.first().and_then(|o| o.dtype);
    let shape = |i: usize| ins.get(i).filter(|o| o.present).and_then(|o| o.shape);
    let one = |s: Option<Vec<usize>>| Ok(vec![Fact::new(d0, s)]);
    match op {
        Op::Conv(a) => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(conv::check_shapes(a, x, w, shape(2))?.output_shape())),
            _ => one(None),
        },
        Op::ConvTranspose(a) => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(conv_transpose::check_shapes(a, x, w, shape(2))?.out)),
            _ => one(None),
        },
        Op::Gemm(a) => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(gemm(a, x, w, shape(2))?)),
            _ => one(None),
        },
        Op::MatMul => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(MatMulDims::of(x, w)?.out)),
            _ => one(None),
        },
        _ if op.meta().shape == ShapeRule::Broadcast => {
            let shapes: Option<Vec<&[usize]>> =
                ins.iter().filter(|o| o.present).map(|o| o.shape).collect();
            one(shapes.map(|s| broadcast_shapes(&s)).transpose()?)
        }
        Op::MaxPool(a) | Op::AveragePool(a) => {
            let Some(x) = shape(0) else {
                return Ok(vec![Fact::new(d0, None), Fact::new(Some(DType::I64), None)]);
            };
            let window = pool::window(a, x)?;
            let mut out = x[..2].to_vec();
            out.extend_from_slice(window.output_dims());
            Ok(vec![
                Fact::new(d0, Some(out.clone())),
                Fact::new(Some(DType::I64), Some(out)),
            ])
        }
        Op::GlobalAveragePool | Op::GlobalMaxPool => one(shape(0).map(|x| {
            x.iter()
                .enumerate()
                .map(|(i, &d)| if i < 2 { d } else { 1 })
                .collect()
        })),
        Op::BatchNormalization(_) => {
            let x = shape(0).map(<[usize]>::to_vec);
            let c = x.as_ref().and_then(|x| x.get(1).copied());
            let stat = Fact::new(ins.get(1).and_then(|o| o.dtype).or(d0), c.map(|c| vec![c]));
            let mut out = vec![Fact::new(d0, x)];
            out.extend(std::iter::repeat_n(stat, n_out.saturating_sub(1)));
            Ok(out)
        }
        Op::LayerNormalization(a) => {
            let x = shape(0).map(<[usize]>::to_vec);
            let stat = match &x {
                Some(x) => {
                    let axis = crate::kit::norm_axis(a.axis.unwrap_or(-1), x.len(), "axis")?;
                    Some(
                        x.iter()
                            .enumerate()
                            .map(|(i, &d)| if i < axis { d } else { 1 })
                            .collect(),
                    )
                }
                None => None,
            };
            let stat = Fact::new(Some(DType::F32), stat);
            let mut out = vec![Fact::new(d0, x)];
            out.extend(std::iter::repeat_n(stat, n_out.saturating_sub(1)));
            Ok(out)
        }
        _ if op.meta().shape == ShapeRule::Same => one(shape(0).map(<[usize]>::to_vec)),
        _ => Err(KernelError::Unsupported(format!(
            "a shape rule for {}",
            op.op_type()
        ))),
    }
}

fn gemm(
    a: &GemmAttrs,
    x: &[usize],
    w: &[usize],
    c: Option<&[usize]>,
) -> Result<Vec<usize>, KernelError> {
    if x.len() != 2 || w.len() != 2 {
        return Err(KernelError::Shape(format!(
            "Gemm operands {x:?} and {w:?} must be matrices"
        )));
    }
    let (m, k) = if a.trans_a.unwrap_or(0) != 0 {
        (x[1], x[0])
    } else {
        (x[0], x[1])
    };
    let (k2, n) = if a.trans_b.unwrap_or(0) != 0 {
        (w[1], w[0])
    } else {
        (w[0], w[1])
    };
    if k != k2 {
        return Err(KernelError::Shape(format!(
            "Gemm inner dimensions differ: A {x:?}, B {w:?}"
        )));
    }
    if let Some(c) = c {
        if broadcast_shapes(&[c, &[m, n]])? != [m, n] {
            return Err(KernelError::Broadcast {
                a: c.to_vec(),
                b: vec![m, n],
            });
        }
    }
    Ok(vec![m, n])
}

//! Per-op shape and type rules over [`Operand`]s, for the tensor-op family
//! (the compute family is in [`super::nn_rules`]). Rules reuse the planners
//! of [`crate::tensor_ops`], so inference and execution agree. A rule that
//! needs a control operand (axes, pads, a target shape) that is not a known
//! constant answers "unknown" rather than failing.

use super::nn_rules;
use super::{Fact, Operand};
use crate::tensor_ops::{self, broadcast_shapes};
use crate::{KernelContext, KernelError, TensorValue};
use std::sync::Arc;
use wdq_ir::{DType, Op};

/// Largest tensor (elements) whose value inference keeps: values only serve
/// shape math there, so weights are not copied.
pub(crate) const VALUE_LIMIT: usize = 1 << 16;

/// The facts about `n_out` outputs of `op` given its operands.
///
/// # Errors
/// [`KernelError`] when the operands contradict the op (rank, channel or
/// broadcast mismatches, bad attributes).
pub(crate) fn node_facts(
    op: &Op,
    opset: i64,
    ins: &[Operand<'_>],
    n_out: usize,
) -> Result<Vec<Fact>, KernelError> {
    if crate::is_compute_op(op) {
        return nn_rules::facts(op, ins, n_out);
    }
    let d0 = ins.first().and_then(|o| o.dtype);
    let s0 = ins.first().and_then(|o| o.shape);
    let consts: Vec<Option<&TensorValue>> = ins.iter().map(|o| o.value).collect();
    // Control inputs (all but input 0) must be constant when present.
    let controls_known = |from: usize| {
        ins.iter()
            .skip(from)
            .all(|o| !o.present || o.value.is_some())
    };
    let same = |shape: Option<Vec<usize>>| Ok(vec![Fact::new(d0, shape)]);
    let unknown = || Ok(vec![Fact::new(d0, None)]);
    match op {
        Op::Constant(a) => match wdq_ir::constant_tensor(a) {
            Some(t) if t.len() > VALUE_LIMIT => {
                Ok(vec![Fact::new(Some(t.dtype()), Some(t.shape().to_vec()))])
            }
            _ => evaluate(op, opset, &consts, n_out),
        },
        Op::Opaque { .. } => Ok(Vec::new()),
        Op::Identity => same(s0.map(<[usize]>::to_vec)),
        Op::Dropout(_) => Ok(vec![
            Fact::new(d0, s0.map(<[usize]>::to_vec)),
            Fact::new(Some(DType::Bool), s0.map(<[usize]>::to_vec)),
        ]),
        Op::Shape(a) => match s0 {
            Some(s) => Ok(vec![Fact::constant(tensor_ops::shape_of(s, a)?)]),
            None => Ok(vec![Fact::new(Some(DType::I64), None)]),
        },
        // A Reshape to an explicit shape needs no input shape.
        Op::Reshape(a) if s0.is_none() && controls_known(1) => {
            let spec = tensor_ops::reshape_spec(a, &consts)?;
            let explicit = spec
                .iter()
                .all(|&d| d > 0 || (d == 0 && a.allowzero == Some(1)));
            same(explicit.then(|| spec.iter().map(|&d| d as usize).collect()))
        }
        _ if s0.is_none() && !matches!(op, Op::ConstantOfShape(_) | Op::Range | Op::Concat(_)) => {
            Ok(vec![Fact::new(out_dtype(op, ins)?, None); n_out.max(1)])
        }
        Op::Flatten(a) => same(s0.map(|s| tensor_ops::flatten_shape(s, a)).transpose()?),
        Op::Reshape(a) if controls_known(1) => {
            let s = s0.unwrap_or_default();
            let spec = tensor_ops::reshape_spec(a, &consts)?;
            same(Some(tensor_ops::reshape_target(
                s,
                &spec,
                a.allowzero.unwrap_or(0) != 0,
            )?))
        }
        Op::Transpose(a) => {
            let s = s0.unwrap_or_default();
            let perm = tensor_ops::transpose_perm(s.len(), a.perm.as_deref())?;
            same(Some(perm.iter().map(|&p| s[p]).collect()))
        }
        Op::Concat(a) => {
            let shapes: Option<Vec<&[usize]>> =
                ins.iter().filter(|o| o.present).map(|o| o.shape).collect();
            match shapes {
                Some(shapes) => same(Some(tensor_ops::concat_shape(&shapes, a.axis)?.1)),
                None => unknown(),
            }
        }
        Op::Split(a) if controls_known(1) => {
            let s = s0.unwrap_or_default();
            let axis = crate::kit::norm_axis(a.axis.unwrap_or(0), s.len(), "axis")?;
            let sizes = tensor_ops::split_sizes(a, &consts, s[axis], Some(n_out))?;
            Ok(sizes
                .iter()
                .map(|&n| {
                    let mut shape = s.to_vec();
                    shape[axis] = n;
                    Fact::new(d0, Some(shape))
                })
                .collect())
        }
        Op::Slice(a) if controls_known(1) => {
            let plan = tensor_ops::slice_plan(s0.unwrap_or_default(), a, &consts, opset)?;
            same(Some(plan.iter().map(Vec::len).collect()))
        }
        Op::Squeeze(a) if controls_known(1) => {
            let axes = tensor_ops::axes_operand(a, &consts)?;
            same(Some(tensor_ops::squeeze_shape(
                s0.unwrap_or_default(),
                axes.as_deref(),
            )?))
        }
        Op::Unsqueeze(a) if controls_known(1) => {
            let axes = tensor_ops::axes_operand(a, &consts)?
                .ok_or(KernelError::MissingInput { index: 1 })?;
            same(Some(tensor_ops::unsqueeze_shape(
                s0.unwrap_or_default(),
                &axes,
            )?))
        }
        Op::Pad(a) if controls_known(1) => {
            let s = s0.unwrap_or_default();
            let amounts = tensor_ops::pad_amounts(a, &consts, s.len())?;
            same(Some(tensor_ops::padded_shape(s, &amounts)?))
        }
        Op::Gather(a) => match ins.get(1).and_then(|o| o.shape) {
            Some(idx) => same(Some(
                tensor_ops::gather_shape(s0.unwrap_or_default(), idx, a.axis)?.1,
            )),
            None => unknown(),
        },
        Op::Tile if controls_known(1) => {
            let repeats = crate::kit::int_values(crate::kit::required(&consts, 1)?, 1)?;
            let plan = tensor_ops::tile_plan(s0.unwrap_or_default(), &repeats)?;
            same(Some(plan.iter().map(Vec::len).collect()))
        }
        Op::Expand if controls_known(1) => {
            let target = tensor_ops::shape_operand(crate::kit::required(&consts, 1)?, 1)?;
            same(Some(tensor_ops::expand_shape(
                s0.unwrap_or_default(),
                &target,
            )?))
        }
        Op::Resize(a) if controls_known(1) => same(Some(
            tensor_ops::resize_plan(a, &consts, s0.unwrap_or_default(), opset)?.out_shape,
        )),
        Op::ReduceMean(a)
        | Op::ReduceSum(a)
        | Op::ReduceMax(a)
        | Op::ReduceMin(a)
        | Op::ReduceL2(a)
            if controls_known(1) =>
        {
            let s = s0.unwrap_or_default();
            match tensor_ops::reduce_axes(a, &consts, s.len())? {
                None => same(Some(s.to_vec())),
                Some(axes) => same(Some(tensor_ops::reduced_shape(
                    s,
                    &axes,
                    a.keepdims.unwrap_or(1) != 0,
                ))),
            }
        }
        Op::Where | Op::Equal | Op::Greater | Op::Less => {
            let shapes: Option<Vec<&[usize]>> = ins.iter().map(|o| o.shape).collect();
            let shape = shapes.map(|s| broadcast_shapes(&s)).transpose()?;
            Ok(vec![Fact::new(out_dtype(op, ins)?, shape)])
        }
        Op::Not | Op::Cast(_) | Op::QuantizeLinear(_) | Op::DequantizeLinear(_) => {
            Ok(vec![Fact::new(
                out_dtype(op, ins)?,
                s0.map(<[usize]>::to_vec),
            )])
        }
        Op::ConstantOfShape(a) => {
            let dtype = a.value.as_ref().map_or(DType::F32, |t| t.dtype());
            match consts.first().copied().flatten() {
                Some(v) => Ok(vec![Fact::new(
                    Some(dtype),
                    Some(tensor_ops::shape_operand(v, 0)?),
                )]),
                None => Ok(vec![Fact::new(Some(dtype), None)]),
            }
        }
        Op::Range => match range_len(&consts)? {
            Some(n) => Ok(vec![Fact::new(d0, Some(vec![n]))]),
            None => unknown(),
        },
        _ => Ok(vec![Fact::new(out_dtype(op, ins)?, None); n_out.max(1)]),
    }
}

/// The element type of output 0 when it does not follow input 0.
fn out_dtype(op: &Op, ins: &[Operand<'_>]) -> Result<Option<DType>, KernelError> {
    let dtype = |i: usize| ins.get(i).and_then(|o| o.dtype);
    Ok(match op {
        Op::Equal | Op::Greater | Op::Less | Op::Not => Some(DType::Bool),
        Op::Where => dtype(1),
        Op::Cast(a) => {
            a.to.and_then(|t| i32::try_from(t).ok())
                .and_then(DType::from_onnx)
        }
        Op::QuantizeLinear(a) => match dtype(2) {
            Some(d) => Some(d),
            None => Some(tensor_ops::quantized_dtype(a, None)?),
        },
        Op::DequantizeLinear(_) => Some(dtype(1).unwrap_or(DType::F32)),
        Op::Shape(_) => Some(DType::I64),
        Op::ConstantOfShape(a) => Some(a.value.as_ref().map_or(DType::F32, |t| t.dtype())),
        _ => dtype(0),
    })
}

/// Range's length from constant operands, if they are known.
fn range_len(consts: &[Option<&TensorValue>]) -> Result<Option<usize>, KernelError> {
    let scalar = |i: usize| {
        consts
            .get(i)
            .copied()
            .flatten()
            .and_then(crate::tensor_ops::elem::first_as_f64)
    };
    let (Some(s), Some(l), Some(d)) = (scalar(0), scalar(1), scalar(2)) else {
        return Ok(None);
    };
    if d == 0.0 || !d.is_finite() || !(l - s).is_finite() {
        return Err(KernelError::Shape(
            "Range delta must be finite and non-zero".into(),
        ));
    }
    Ok(Some(
        ((l - s) / d).ceil().max(0.0).min(usize::MAX as f64) as usize
    ))
}

/// Runs the kernel of `op` on constant inputs.
///
/// # Errors
/// The kernel's [`KernelError`].
pub(crate) fn evaluate(
    op: &Op,
    opset: i64,
    inputs: &[Option<&TensorValue>],
    n_out: usize,
) -> Result<Vec<Fact>, KernelError> {
    let ctx = KernelContext { opset };
    let values = if crate::is_compute_op(op) {
        crate::run_op(op, ctx, inputs)?
    } else {
        tensor_ops::run_with_outputs(op, ctx, inputs, Some(n_out))?
    };
    Ok(values
        .into_iter()
        .map(|v| v.map(Fact::constant).unwrap_or_default())
        .collect())
}

impl Fact {
    /// A fact with a known value.
    pub(crate) fn constant(value: TensorValue) -> Fact {
        Fact {
            dtype: Some(value.dtype()),
            shape: Some(value.shape().to_vec()),
            value: Some(Arc::new(value)),
        }
    }

    /// A fact without a value.
    pub(crate) fn new(dtype: Option<DType>, shape: Option<Vec<usize>>) -> Fact {
        Fact {
            dtype,
            shape,
            value: None,
        }
    }
}

//! ReduceMean, ReduceSum and ReduceMax over f32, f64, i64 and i32. Axes are
//! an attribute before opset 13 (ReduceSum) or 18 (the others) and input 1
//! after; either form is read when present.

use crate::kit::{array, int_values, norm_axis, optional};
use crate::tensor_ops::elem::Elem;
use crate::{KernelError, TensorValue};
use ndarray::{ArrayD, Axis};
use wdq_ir::op::ReduceAttrs;

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    Mean,
    Sum,
    Max,
}

/// The axes to reduce (sorted, distinct), or `None` for a no-op
/// (`noop_with_empty_axes` with no axes).
pub(crate) fn reduce_axes(
    attrs: &ReduceAttrs,
    inputs: &[Option<&TensorValue>],
    rank: usize,
) -> Result<Option<Vec<usize>>, KernelError> {
    let axes = match optional(inputs, 1) {
        Some(v) => int_values(v, 1)?,
        None => attrs.axes.clone().unwrap_or_default(),
    };
    if axes.is_empty() {
        if attrs.noop_with_empty_axes.unwrap_or(0) != 0 {
            return Ok(None);
        }
        return Ok(Some((0..rank).collect()));
    }
    let mut out: Vec<usize> = axes
        .iter()
        .map(|&a| norm_axis(a, rank, "axes"))
        .collect::<Result<_, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(Some(out))
}

/// The output shape of a reduction over `axes`.
pub(crate) fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

fn reduce_array<T: Elem>(
    a: &ArrayD<T>,
    axes: &[usize],
    keepdims: bool,
    how: Reduction,
) -> Result<ArrayD<T>, KernelError> {
    let mut out = a.clone();
    let mut count = 1usize;
    for &axis in axes.iter().rev() {
        count *= a.shape()[axis];
        out = match how {
            Reduction::Max => out.fold_axis(Axis(axis), T::LOWEST, |&m, &x| {
                if x > m || x.to_f64().is_nan() {
                    x
                } else {
                    m
                }
            }),
            Reduction::Sum | Reduction::Mean => {
                out.fold_axis(Axis(axis), T::default(), |&s, &x| s.plus(x))
            }
        };
    }
    if how == Reduction::Mean {
        let n = count as f64;
        out.mapv_inplace(|s| T::from_f64(s.to_f64() / n));
    }
    let shape = reduced_shape(a.shape(), axes, keepdims);
    array(&shape, out.iter().copied().collect())
}

/// A reduction.
pub(crate) fn reduce(
    attrs: &ReduceAttrs,
    inputs: &[Option<&TensorValue>],
    x: &TensorValue,
    how: Reduction,
) -> Result<TensorValue, KernelError> {
    let Some(axes) = reduce_axes(attrs, inputs, x.shape().len())? else {
        return Ok(x.clone());
    };
    let keep = attrs.keepdims.unwrap_or(1) != 0;
    Ok(match x {
        TensorValue::F32(a) => TensorValue::F32(reduce_array(a, &axes, keep, how)?),
        TensorValue::F64(a) => TensorValue::F64(reduce_array(a, &axes, keep, how)?),
        TensorValue::I64(a) => TensorValue::I64(reduce_array(a, &axes, keep, how)?),
        TensorValue::I32(a) => TensorValue::I32(reduce_array(a, &axes, keep, how)?),
        other => {
            return Err(KernelError::InputType {
                index: 0,
                got: other.dtype(),
                expected: "f32, f64, i64 or i32",
            })
        }
    })
}

//! The kernel helper kit every kernel family uses (compute, tensor ops,
//! gradients): input accessors that report a missing or mistyped input as a
//! [`KernelError`], buffer helpers (row-major data in, array out), axis
//! resolution and the size guards.

use crate::{KernelError, KernelResult, TensorValue};
use ndarray::{ArrayD, IxDyn};
use std::borrow::Cow;

/// Largest number of elements a kernel may create (guards shape-driven ops
/// such as ConstantOfShape, Expand, Tile and Range, and attributes such as
/// huge pads or `output_shape`, against absurd sizes).
pub(crate) const MAX_ELEMENTS: usize = 1 << 31;

/// Work below this many elements is not worth sharing out over threads.
pub(crate) const PARALLEL_MIN: usize = 1 << 15;

/// The input at `index`, or [`KernelError::MissingInput`].
pub(crate) fn required<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Result<&'a TensorValue, KernelError> {
    optional(inputs, index).ok_or(KernelError::MissingInput { index })
}

/// The input at `index` when present.
pub(crate) fn optional<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Option<&'a TensorValue> {
    inputs.get(index).copied().flatten()
}

/// Input `index` as f32, which must be present.
pub(crate) fn f32_input<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Result<&'a ArrayD<f32>, KernelError> {
    let value = required(inputs, index)?;
    value.as_f32().ok_or(KernelError::InputType {
        index,
        got: value.dtype(),
        expected: "f32",
    })
}

/// Input `index` as f32 if it is present.
pub(crate) fn optional_f32<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Result<Option<&'a ArrayD<f32>>, KernelError> {
    match optional(inputs, index) {
        None => Ok(None),
        Some(_) => f32_input(inputs, index).map(Some),
    }
}

/// The elements of an integer input (axes, pads, shapes, indices) as i64.
pub(crate) fn int_values(value: &TensorValue, index: usize) -> Result<Vec<i64>, KernelError> {
    Ok(match value {
        TensorValue::I64(a) => a.iter().copied().collect(),
        TensorValue::I32(a) => a.iter().map(|&x| i64::from(x)).collect(),
        TensorValue::I8(a) | TensorValue::I4(a) => a.iter().map(|&x| i64::from(x)).collect(),
        TensorValue::U8(a) | TensorValue::U4(a) => a.iter().map(|&x| i64::from(x)).collect(),
        other => {
            return Err(KernelError::InputType {
                index,
                got: other.dtype(),
                expected: "an integer tensor",
            })
        }
    })
}

/// The elements of a float input (scales) as f32.
pub(crate) fn float_values(value: &TensorValue, index: usize) -> Result<Vec<f32>, KernelError> {
    Ok(match value {
        TensorValue::F32(a) => a.iter().copied().collect(),
        TensorValue::F64(a) => a.iter().map(|&x| x as f32).collect(),
        other => {
            return Err(KernelError::InputType {
                index,
                got: other.dtype(),
                expected: "a float tensor",
            })
        }
    })
}

/// The elements in row-major order, borrowed when the array already is.
pub(crate) fn contiguous<T: Clone>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// Wraps a row-major buffer as an array of `shape`.
pub(crate) fn array<T>(shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>, KernelError> {
    let len = data.len();
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|_| KernelError::Shape(format!("{len} elements do not fill shape {shape:?}")))
}

/// `a`'s elements in row-major order, reshaped to `shape`.
pub(crate) fn reshaped<T: Clone>(a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>, KernelError> {
    array(shape, a.iter().cloned().collect())
}

/// Number of elements of `shape`, refusing overflow and sizes over
/// [`MAX_ELEMENTS`].
pub(crate) fn element_count(shape: &[usize]) -> Result<usize, KernelError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| KernelError::Shape(format!("shape {shape:?} is too large")))
}

/// A one-output kernel result.
pub(crate) fn single(value: TensorValue) -> KernelResult {
    Ok(vec![Some(value)])
}

/// Normalises an axis in `-rank..rank` to `0..rank`; `name` is the
/// attribute reported when it is outside.
pub(crate) fn norm_axis(axis: i64, rank: usize, name: &'static str) -> Result<usize, KernelError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(KernelError::Attribute {
            name,
            why: format!("axis {axis} is out of range for rank {rank}"),
        })
    }
}

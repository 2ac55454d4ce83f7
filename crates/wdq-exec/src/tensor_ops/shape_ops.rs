//! Shape ops: Flatten, Reshape, Squeeze, Unsqueeze, Shape, ConstantOfShape,
//! Expand, Range and Constant. The `*_shape` planners are shared with
//! static shape inference; they read only control inputs (never input 0).

use crate::kit::{array, element_count, int_values, norm_axis, optional, reshaped, MAX_ELEMENTS};
use crate::tensor_ops::broadcast::{broadcast_shapes, broadcast_to};
use crate::tensor_ops::elem::{map_any, Elem};
use crate::{KernelError, TensorValue};
use ndarray::{ArrayD, IxDyn};
use wdq_ir::op::{
    AxesAttrs, AxisAttrs, ConstantAttrs, ConstantOfShapeAttrs, ReshapeAttrs, ShapeAttrs,
};

/// `x` with its elements (row-major) laid out in `shape`.
pub(crate) fn reshape_value(x: &TensorValue, shape: &[usize]) -> Result<TensorValue, KernelError> {
    Ok(map_any!(x, |a| reshaped(a, shape)?))
}

/// Flatten's 2-D output shape (axis default 1, in `-rank..=rank`).
pub(crate) fn flatten_shape(shape: &[usize], attrs: &AxisAttrs) -> Result<Vec<usize>, KernelError> {
    let axis = attrs.axis.unwrap_or(1);
    let r = shape.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(KernelError::Attribute {
            name: "axis",
            why: format!("Flatten axis {axis} is out of range for rank {r}"),
        });
    }
    let a = a as usize;
    Ok(vec![
        shape[..a].iter().product(),
        shape[a..].iter().product(),
    ])
}

/// The requested shape of a Reshape: input 1, or the `shape` attribute (opset < 5).
pub(crate) fn reshape_spec(
    attrs: &ReshapeAttrs,
    inputs: &[Option<&TensorValue>],
) -> Result<Vec<i64>, KernelError> {
    match (optional(inputs, 1), &attrs.shape) {
        (Some(v), _) => int_values(v, 1),
        (None, Some(s)) => Ok(s.clone()),
        (None, None) => Err(KernelError::MissingInput { index: 1 }),
    }
}

/// Resolves a Reshape request against the input shape: 0 copies the input
/// dimension (unless `allowzero`), one -1 is inferred.
pub(crate) fn reshape_target(
    input: &[usize],
    spec: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, KernelError> {
    let bad = |why: String| KernelError::Shape(format!("Reshape {input:?} to {spec:?}: {why}"));
    let mut out = Vec::with_capacity(spec.len());
    let mut inferred = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if inferred.is_some() => return Err(bad("more than one -1".into())),
            -1 => {
                inferred = Some(i);
                out.push(1);
            }
            0 if !allowzero => match input.get(i) {
                Some(&v) => out.push(v),
                None => return Err(bad(format!("0 at position {i} has no input dimension"))),
            },
            d if d < 0 => return Err(bad(format!("negative dimension {d}"))),
            d => out.push(usize::try_from(d).map_err(|_| bad("dimension too large".into()))?),
        }
    }
    let total = element_count(input)?;
    if let Some(i) = inferred {
        let known = out
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .try_fold(1usize, |acc, (_, &d)| acc.checked_mul(d))
            .ok_or_else(|| bad("size overflows".into()))?;
        if known == 0 || total % known != 0 {
            return Err(bad("-1 cannot be inferred".into()));
        }
        out[i] = total / known;
    }
    if out.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) != Some(total) {
        return Err(bad("element counts differ".into()));
    }
    Ok(out)
}

/// Squeeze/Unsqueeze axes: input 1 (opset 13+), else the attribute; `None`
/// when neither is given (or input 1 is empty).
pub(crate) fn axes_operand(
    attrs: &AxesAttrs,
    inputs: &[Option<&TensorValue>],
) -> Result<Option<Vec<i64>>, KernelError> {
    match optional(inputs, 1) {
        Some(v) => {
            let axes = int_values(v, 1)?;
            Ok((!axes.is_empty()).then_some(axes))
        }
        None => Ok(attrs.axes.clone()),
    }
}

/// Squeeze's output shape; without axes every 1-dimension is dropped.
pub(crate) fn squeeze_shape(
    shape: &[usize],
    axes: Option<&[i64]>,
) -> Result<Vec<usize>, KernelError> {
    let Some(axes) = axes else {
        return Ok(shape.iter().copied().filter(|&d| d != 1).collect());
    };
    let mut drop = vec![false; shape.len()];
    for &a in axes {
        let a = norm_axis(a, shape.len(), "axes")?;
        if shape[a] != 1 {
            return Err(KernelError::Shape(format!(
                "Squeeze axis {a} of shape {shape:?} is not 1"
            )));
        }
        drop[a] = true;
    }
    Ok(shape
        .iter()
        .zip(&drop)
        .filter(|(_, &d)| !d)
        .map(|(&s, _)| s)
        .collect())
}

/// Unsqueeze's output shape.
pub(crate) fn unsqueeze_shape(shape: &[usize], axes: &[i64]) -> Result<Vec<usize>, KernelError> {
    let rank = shape.len() + axes.len();
    let mut ones = vec![false; rank];
    for &a in axes {
        let a = norm_axis(a, rank, "axes")?;
        if std::mem::replace(&mut ones[a], true) {
            return Err(KernelError::Attribute {
                name: "axes",
                why: format!("axis {a} is repeated"),
            });
        }
    }
    let mut rest = shape.iter();
    Ok(ones
        .iter()
        .map(|&one| {
            if one {
                1
            } else {
                rest.next().copied().unwrap_or(1)
            }
        })
        .collect())
}

/// The `start..end` window of dimensions that Shape returns (opset 15).
pub(crate) fn shape_window(rank: usize, attrs: &ShapeAttrs) -> (usize, usize) {
    let r = rank as i64;
    let clamp = |x: i64| (if x < 0 { x + r } else { x }).clamp(0, r) as usize;
    let start = clamp(attrs.start.unwrap_or(0));
    let end = clamp(attrs.end.unwrap_or(r));
    (start, end.max(start))
}

/// Shape: the input's dimensions as a 1-D i64 tensor.
pub(crate) fn shape_of(shape: &[usize], attrs: &ShapeAttrs) -> Result<TensorValue, KernelError> {
    let (start, end) = shape_window(shape.len(), attrs);
    let dims: Vec<i64> = shape[start..end].iter().map(|&d| d as i64).collect();
    Ok(TensorValue::I64(array(&[dims.len()], dims)?))
}

/// A shape operand (ConstantOfShape, Expand): non-negative integers.
pub(crate) fn shape_operand(value: &TensorValue, index: usize) -> Result<Vec<usize>, KernelError> {
    int_values(value, index)?
        .into_iter()
        .map(|d| {
            usize::try_from(d)
                .map_err(|_| KernelError::Shape(format!("negative dimension {d} in input {index}")))
        })
        .collect()
}

/// ConstantOfShape: `shape` filled with the one element of `value` (f32 0 by default).
pub(crate) fn constant_of_shape(
    attrs: &ConstantOfShapeAttrs,
    shape: &[usize],
) -> Result<TensorValue, KernelError> {
    element_count(shape)?;
    let fill = match &attrs.value {
        Some(t) => TensorValue::from_tensor(t)
            .map_err(|e| KernelError::Unsupported(format!("ConstantOfShape value: {e}")))?,
        None => TensorValue::F32(ArrayD::zeros(IxDyn(&[1]))),
    };
    fn filled<T: Clone>(a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>, KernelError> {
        let v = a
            .iter()
            .next()
            .cloned()
            .ok_or_else(|| KernelError::Attribute {
                name: "value",
                why: "the value tensor is empty".into(),
            })?;
        Ok(ArrayD::from_elem(IxDyn(shape), v))
    }
    Ok(map_any!(&fill, |a| filled(a, shape)?))
}

/// Expand's output shape: the input and the requested shape broadcast together.
pub(crate) fn expand_shape(
    input: &[usize],
    requested: &[usize],
) -> Result<Vec<usize>, KernelError> {
    broadcast_shapes(&[input, requested])
}

/// Expand: `x` broadcast to `shape`.
pub(crate) fn expand(x: &TensorValue, requested: &[usize]) -> Result<TensorValue, KernelError> {
    let shape = expand_shape(x.shape(), requested)?;
    Ok(map_any!(x, |a| broadcast_to(a, &shape)?))
}

/// Range: `start, start + delta, ..` up to `limit` (exclusive), for f32, f64, i64 and i32.
pub(crate) fn range(
    start: &TensorValue,
    limit: &TensorValue,
    delta: &TensorValue,
) -> Result<TensorValue, KernelError> {
    fn scalar<T: Copy>(a: &ArrayD<T>, index: usize) -> Result<T, KernelError> {
        if a.len() != 1 {
            return Err(KernelError::Shape(format!(
                "Range input {index} must be a scalar"
            )));
        }
        a.iter()
            .next()
            .copied()
            .ok_or(KernelError::MissingInput { index })
    }
    fn count(span: f64, delta: f64) -> Result<usize, KernelError> {
        if delta == 0.0 || !span.is_finite() || !delta.is_finite() {
            return Err(KernelError::Shape(
                "Range delta must be finite and non-zero".into(),
            ));
        }
        let n = (span / delta).ceil().max(0.0);
        if n > MAX_ELEMENTS as f64 {
            return Err(KernelError::Shape(format!(
                "Range of {n} elements is too large"
            )));
        }
        Ok(n as usize)
    }
    fn int_range<T: Elem + Into<i64>>(s: T, l: T, d: T) -> Result<Vec<T>, KernelError> {
        let (s, l, d) = (s.into() as i128, l.into() as i128, d.into() as i128);
        if d == 0 {
            return Err(KernelError::Shape("Range delta must be non-zero".into()));
        }
        let span = l - s;
        let n = if span != 0 && (span > 0) == (d > 0) {
            (span.abs() + d.abs() - 1) / d.abs()
        } else {
            0
        };
        if n > MAX_ELEMENTS as i128 {
            return Err(KernelError::Shape(format!(
                "Range of {n} elements is too large"
            )));
        }
        Ok((0..n).map(|i| T::from_f64((s + i * d) as f64)).collect())
    }
    let mismatch = |index: usize, got: &TensorValue| KernelError::InputType {
        index,
        got: got.dtype(),
        expected: "the element type of input 0",
    };
    Ok(match (start, limit, delta) {
        (TensorValue::F32(s), TensorValue::F32(l), TensorValue::F32(d)) => {
            let (s, l, d) = (scalar(s, 0)?, scalar(l, 1)?, scalar(d, 2)?);
            let n = count(f64::from(l - s), f64::from(d))?;
            let v: Vec<f32> = (0..n).map(|i| s + i as f32 * d).collect();
            TensorValue::F32(array(&[n], v)?)
        }
        (TensorValue::F64(s), TensorValue::F64(l), TensorValue::F64(d)) => {
            let (s, l, d) = (scalar(s, 0)?, scalar(l, 1)?, scalar(d, 2)?);
            let n = count(l - s, d)?;
            let v: Vec<f64> = (0..n).map(|i| s + i as f64 * d).collect();
            TensorValue::F64(array(&[n], v)?)
        }
        (TensorValue::I64(s), TensorValue::I64(l), TensorValue::I64(d)) => {
            let v = int_range(scalar(s, 0)?, scalar(l, 1)?, scalar(d, 2)?)?;
            TensorValue::I64(array(&[v.len()], v)?)
        }
        (TensorValue::I32(s), TensorValue::I32(l), TensorValue::I32(d)) => {
            let v = int_range(scalar(s, 0)?, scalar(l, 1)?, scalar(d, 2)?)?;
            TensorValue::I32(array(&[v.len()], v)?)
        }
        (
            TensorValue::F32(_) | TensorValue::F64(_) | TensorValue::I64(_) | TensorValue::I32(_),
            l,
            d,
        ) => {
            if l.dtype() != start.dtype() {
                return Err(mismatch(1, l));
            }
            return Err(mismatch(2, d));
        }
        (other, _, _) => {
            return Err(KernelError::InputType {
                index: 0,
                got: other.dtype(),
                expected: "f32, f64, i64 or i32",
            })
        }
    })
}

/// Constant: the tensor its attributes carry.
pub(crate) fn constant(attrs: &ConstantAttrs) -> Result<TensorValue, KernelError> {
    let tensor = wdq_ir::constant_tensor(attrs).ok_or_else(|| KernelError::Attribute {
        name: "value",
        why: "Constant carries no tensor the executor reads".into(),
    })?;
    TensorValue::from_tensor(&tensor)
        .map_err(|e| KernelError::Unsupported(format!("Constant: {e}")))
}

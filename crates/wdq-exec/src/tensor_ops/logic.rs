//! Comparisons (Equal, Greater, Less), Not and Where, with broadcasting.

use crate::tensor_ops::broadcast::{broadcast_shapes, view_as};
use crate::tensor_ops::elem::map_same;
use crate::{KernelError, TensorValue};
use ndarray::{ArrayD, Zip};

/// Which comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comparison {
    Equal,
    Greater,
    Less,
}

fn compare_arrays<T: PartialOrd>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    how: Comparison,
) -> Result<ArrayD<bool>, KernelError> {
    let shape = broadcast_shapes(&[a.shape(), b.shape()])?;
    crate::kit::element_count(&shape)?;
    let (va, vb) = (view_as(a, &shape)?, view_as(b, &shape)?);
    Ok(Zip::from(&va).and(&vb).map_collect(|x, y| match how {
        Comparison::Equal => x == y,
        Comparison::Greater => x > y,
        Comparison::Less => x < y,
    }))
}

/// Equal, Greater or Less: a bool tensor of the broadcast shape.
pub(crate) fn compare(
    a: &TensorValue,
    b: &TensorValue,
    how: Comparison,
) -> Result<TensorValue, KernelError> {
    let out = match (a, b) {
        (TensorValue::F32(x), TensorValue::F32(y)) => compare_arrays(x, y, how),
        (TensorValue::F64(x), TensorValue::F64(y)) => compare_arrays(x, y, how),
        (TensorValue::I64(x), TensorValue::I64(y)) => compare_arrays(x, y, how),
        (TensorValue::I32(x), TensorValue::I32(y)) => compare_arrays(x, y, how),
        (TensorValue::I8(x), TensorValue::I8(y)) | (TensorValue::I4(x), TensorValue::I4(y)) => {
            compare_arrays(x, y, how)
        }
        (TensorValue::U8(x), TensorValue::U8(y)) | (TensorValue::U4(x), TensorValue::U4(y)) => {
            compare_arrays(x, y, how)
        }
        (TensorValue::Bool(x), TensorValue::Bool(y)) => compare_arrays(x, y, how),
        (_, other) => {
            return Err(KernelError::InputType {
                index: 1,
                got: other.dtype(),
                expected: "the element type of input 0",
            })
        }
    }?;
    Ok(TensorValue::Bool(out))
}

/// Not.
pub(crate) fn not(x: &TensorValue) -> Result<TensorValue, KernelError> {
    match x {
        TensorValue::Bool(a) => Ok(TensorValue::Bool(a.mapv(|v| !v))),
        other => Err(KernelError::InputType {
            index: 0,
            got: other.dtype(),
            expected: "bool",
        }),
    }
}

fn where_arrays<T: Clone>(
    c: &ArrayD<bool>,
    x: &ArrayD<T>,
    y: &ArrayD<T>,
) -> Result<ArrayD<T>, KernelError> {
    let shape = broadcast_shapes(&[c.shape(), x.shape(), y.shape()])?;
    crate::kit::element_count(&shape)?;
    let (vc, vx, vy) = (
        view_as(c, &shape)?,
        view_as(x, &shape)?,
        view_as(y, &shape)?,
    );
    Ok(Zip::from(&vc)
        .and(&vx)
        .and(&vy)
        .map_collect(|&c, a, b| if c { a.clone() } else { b.clone() }))
}

/// Where: `x` where `cond` holds, else `y`, broadcast together.
pub(crate) fn where_(
    cond: &TensorValue,
    x: &TensorValue,
    y: &TensorValue,
) -> Result<TensorValue, KernelError> {
    let TensorValue::Bool(c) = cond else {
        return Err(KernelError::InputType {
            index: 0,
            got: cond.dtype(),
            expected: "bool",
        });
    };
    Ok(map_same!(x, [y], 2, |a, others| where_arrays(
        c, a, others[0]
    )?))
}

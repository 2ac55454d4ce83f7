//! Elementwise binary arithmetic with numpy broadcasting: Add, Sub, Mul,
//! Div, Pow, Max and Min (variadic), on f32 and on i64/i32 (shape math), plus
//! PRelu (slope broadcast to the input's shape).
//!
//! Integer arithmetic wraps on overflow; integer division by zero is an
//! error. Pow takes an f32 base with an f32 or integer exponent.

use super::broadcast::zip;
use crate::kit::{array, contiguous, f32_input, required, single};
use crate::{KernelError, KernelResult, TensorValue};
use ndarray::ArrayD;
use wdq_ir::Op;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

fn zip_arrays<T, F>(a: &ArrayD<T>, b: &ArrayD<T>, f: F) -> Result<ArrayD<T>, KernelError>
where
    T: Copy + Sync + Send + Default,
    F: Fn(T, T) -> T + Sync,
{
    let (shape, data) = zip(&contiguous(a), a.shape(), &contiguous(b), b.shape(), f)?;
    array(&shape, data)
}

fn apply_f32(kind: Arith, a: &ArrayD<f32>, b: &ArrayD<f32>) -> Result<ArrayD<f32>, KernelError> {
    match kind {
        Arith::Add => zip_arrays(a, b, |x, y| x + y),
        Arith::Sub => zip_arrays(a, b, |x, y| x - y),
        Arith::Mul => zip_arrays(a, b, |x, y| x * y),
        Arith::Div => zip_arrays(a, b, |x, y| x / y),
        Arith::Pow => zip_arrays(a, b, pow),
        Arith::Max => zip_arrays(a, b, |x: f32, y: f32| {
            if x.is_nan() || y.is_nan() {
                f32::NAN
            } else {
                x.max(y)
            }
        }),
        Arith::Min => zip_arrays(a, b, |x: f32, y: f32| {
            if x.is_nan() || y.is_nan() {
                f32::NAN
            } else {
                x.min(y)
            }
        }),
    }
}

fn pow(x: f32, y: f32) -> f32 {
    if y == 2.0 {
        x * x
    } else if y == 1.0 {
        x
    } else {
        x.powf(y)
    }
}

/// Integer arithmetic for one integer type (wrapping; division by zero is
/// an error).
macro_rules! int_arith {
    ($name:ident, $t:ty) => {
        fn $name(kind: Arith, a: &ArrayD<$t>, b: &ArrayD<$t>) -> Result<ArrayD<$t>, KernelError> {
            match kind {
                Arith::Add => zip_arrays(a, b, <$t>::wrapping_add),
                Arith::Sub => zip_arrays(a, b, <$t>::wrapping_sub),
                Arith::Mul => zip_arrays(a, b, <$t>::wrapping_mul),
                Arith::Div => {
                    if b.iter().any(|&y| y == 0) {
                        return Err(KernelError::Shape("integer division by zero".into()));
                    }
                    zip_arrays(a, b, <$t>::wrapping_div)
                }
                Arith::Max => zip_arrays(a, b, <$t>::max),
                Arith::Min => zip_arrays(a, b, <$t>::min),
                Arith::Pow => Err(KernelError::Unsupported("Pow with an integer base".into())),
            }
        }
    };
}
int_arith!(apply_i64, i64);
int_arith!(apply_i32, i32);

fn combine(
    kind: Arith,
    a: &TensorValue,
    b: &TensorValue,
    b_index: usize,
) -> Result<TensorValue, KernelError> {
    match (a, b) {
        (TensorValue::F32(x), TensorValue::F32(y)) => apply_f32(kind, x, y).map(TensorValue::F32),
        (TensorValue::I64(x), TensorValue::I64(y)) => apply_i64(kind, x, y).map(TensorValue::I64),
        (TensorValue::I32(x), TensorValue::I32(y)) => apply_i32(kind, x, y).map(TensorValue::I32),
        (TensorValue::F32(x), other) if kind == Arith::Pow => {
            let exponent = match other {
                TensorValue::I64(e) => e.mapv(|v| v as f32),
                TensorValue::I32(e) => e.mapv(|v| v as f32),
                TensorValue::F64(e) => e.mapv(|v| v as f32),
                _ => return Err(type_error(b_index, other, "a number")),
            };
            apply_f32(kind, x, &exponent).map(TensorValue::F32)
        }
        (TensorValue::F32(_), other) => Err(type_error(b_index, other, "f32 like input 0")),
        (TensorValue::I64(_), other) => Err(type_error(b_index, other, "i64 like input 0")),
        (TensorValue::I32(_), other) => Err(type_error(b_index, other, "i32 like input 0")),
        (other, _) => Err(type_error(0, other, "f32, i64 or i32")),
    }
}

fn type_error(index: usize, value: &TensorValue, expected: &'static str) -> KernelError {
    KernelError::InputType {
        index,
        got: value.dtype(),
        expected,
    }
}

/// Runs Add, Sub, Mul, Div, Pow (two inputs) or Max, Min (one or more).
pub(super) fn run(op: &Op, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let kind = match op {
        Op::Add => Arith::Add,
        Op::Sub => Arith::Sub,
        Op::Mul => Arith::Mul,
        Op::Div => Arith::Div,
        Op::Pow => Arith::Pow,
        Op::Max => Arith::Max,
        Op::Min => Arith::Min,
        other => {
            return Err(KernelError::Unsupported(format!(
                "{} as arithmetic",
                other.op_type()
            )))
        }
    };
    let first = required(inputs, 0)?;
    if matches!(kind, Arith::Max | Arith::Min) {
        if !matches!(
            first,
            TensorValue::F32(_) | TensorValue::I64(_) | TensorValue::I32(_)
        ) {
            return Err(type_error(0, first, "f32, i64 or i32"));
        }
        let mut acc = first.clone();
        for index in 1..inputs.len() {
            acc = combine(kind, &acc, required(inputs, index)?, index)?;
        }
        return single(acc);
    }
    if inputs.len() != 2 {
        return Err(KernelError::Shape(format!(
            "{} takes 2 inputs, got {}",
            op.op_type(),
            inputs.len()
        )));
    }
    single(combine(kind, first, required(inputs, 1)?, 1)?)
}

/// PRelu: `x < 0 ? slope * x : x`, the slope broadcast to the input's shape
/// (a 1-D slope of the channel count is read per channel when plain numpy
/// broadcasting does not apply, as older exporters wrote it).
pub(super) fn prelu(inputs: &[Option<&TensorValue>]) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let slope = f32_input(inputs, 1)?;
    let f = |v: f32, s: f32| if v < 0.0 { s * v } else { v };
    let xd = contiguous(x);
    let sd = contiguous(slope);
    let mut s_shape = slope.shape().to_vec();
    if s_shape.len() == 1
        && x.ndim() >= 3
        && s_shape[0] == x.shape()[1]
        && crate::tensor_ops::broadcast_shapes(&[x.shape(), &s_shape]).is_err()
    {
        s_shape.extend(std::iter::repeat_n(1, x.ndim() - 2));
    }
    let (shape, data) = zip(&xd, x.shape(), &sd, &s_shape, f)?;
    if shape != x.shape() {
        return Err(KernelError::Broadcast {
            a: x.shape().to_vec(),
            b: slope.shape().to_vec(),
        });
    }
    single(TensorValue::F32(array(&shape, data)?))
}

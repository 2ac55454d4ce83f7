//! Cast between f32, f64, i64, i32, i8, u8 and bool with C semantics:
//! float to integer truncates toward zero (saturating out of range, NaN to
//! 0), integer narrowing wraps, anything to bool tests for non-zero.

use crate::{KernelError, TensorValue};
use ndarray::ArrayD;
use wdq_ir::DType;

macro_rules! cast_numeric {
    ($src:expr, $d:ty) => {
        match $src {
            TensorValue::F32(a) => a.mapv(|x| x as $d),
            TensorValue::F64(a) => a.mapv(|x| x as $d),
            TensorValue::I64(a) => a.mapv(|x| x as $d),
            TensorValue::I32(a) => a.mapv(|x| x as $d),
            TensorValue::I8(a) | TensorValue::I4(a) => a.mapv(|x| x as $d),
            TensorValue::U8(a) | TensorValue::U4(a) => a.mapv(|x| x as $d),
            TensorValue::Bool(a) => a.mapv(|x| u8::from(x) as $d),
        }
    };
}

fn to_bool(x: &TensorValue) -> ArrayD<bool> {
    match x {
        TensorValue::F32(a) => a.mapv(|v| v != 0.0),
        TensorValue::F64(a) => a.mapv(|v| v != 0.0),
        TensorValue::I64(a) => a.mapv(|v| v != 0),
        TensorValue::I32(a) => a.mapv(|v| v != 0),
        TensorValue::I8(a) | TensorValue::I4(a) => a.mapv(|v| v != 0),
        TensorValue::U8(a) | TensorValue::U4(a) => a.mapv(|v| v != 0),
        TensorValue::Bool(a) => a.clone(),
    }
}

/// The element type a Cast's `to` attribute names.
///
/// # Errors
/// [`KernelError::Attribute`] when missing or unknown,
/// [`KernelError::Unsupported`] for types the executor does not hold.
pub(crate) fn cast_target(to: Option<i64>) -> Result<DType, KernelError> {
    let to = to.ok_or(KernelError::Attribute {
        name: "to",
        why: "missing".into(),
    })?;
    let dtype = i32::try_from(to)
        .ok()
        .and_then(DType::from_onnx)
        .ok_or_else(|| KernelError::Attribute {
            name: "to",
            why: format!("unknown type code {to}"),
        })?;
    match dtype {
        DType::F32 | DType::F64 | DType::I64 | DType::I32 | DType::I8 | DType::U8 | DType::Bool => {
            Ok(dtype)
        }
        other => Err(KernelError::Unsupported(format!("Cast to {other}"))),
    }
}

/// Cast.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn cast(x: &TensorValue, to: DType) -> Result<TensorValue, KernelError> {
    Ok(match to {
        DType::F32 => TensorValue::F32(cast_numeric!(x, f32)),
        DType::F64 => TensorValue::F64(cast_numeric!(x, f64)),
        DType::I64 => TensorValue::I64(cast_numeric!(x, i64)),
        DType::I32 => TensorValue::I32(cast_numeric!(x, i32)),
        DType::I8 => TensorValue::I8(cast_numeric!(x, i8)),
        DType::U8 => TensorValue::U8(cast_numeric!(x, u8)),
        DType::Bool => TensorValue::Bool(to_bool(x)),
        other => return Err(KernelError::Unsupported(format!("Cast to {other}"))),
    })
}

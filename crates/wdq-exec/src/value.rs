//! Runtime tensors: what flows along graph edges while the executor runs.

use ndarray::{ArrayD, IxDyn};
use wdq_ir::{DType, Tensor, TensorData};

/// A runtime tensor. f32 carries the numbers, i64 the shape math; the small
/// integer types appear around QuantizeLinear/DequantizeLinear; i4/u4 values
/// travel unpacked in i8/u8 with their dtype remembered by the kernel that
/// made them (see [`TensorValue::I4`] and [`TensorValue::U4`]).
#[derive(Clone, Debug, PartialEq)]
pub enum TensorValue {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    I32(ArrayD<i32>),
    I8(ArrayD<i8>),
    U8(ArrayD<u8>),
    /// INT4 values, one per element, in -8..=7.
    I4(ArrayD<i8>),
    /// UINT4 values, one per element, in 0..=15.
    U4(ArrayD<u8>),
    Bool(ArrayD<bool>),
}

/// A constant the executor cannot hold (strings, f16, f8, ...).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("element type {0} is not supported by the executor")]
pub struct UnsupportedDType(pub DType);

impl TensorValue {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            TensorValue::F32(_) => DType::F32,
            TensorValue::F64(_) => DType::F64,
            TensorValue::I64(_) => DType::I64,
            TensorValue::I32(_) => DType::I32,
            TensorValue::I8(_) => DType::I8,
            TensorValue::U8(_) => DType::U8,
            TensorValue::I4(_) => DType::I4,
            TensorValue::U4(_) => DType::U4,
            TensorValue::Bool(_) => DType::Bool,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            TensorValue::F32(a) => a.shape(),
            TensorValue::F64(a) => a.shape(),
            TensorValue::I64(a) => a.shape(),
            TensorValue::I32(a) => a.shape(),
            TensorValue::I8(a) | TensorValue::I4(a) => a.shape(),
            TensorValue::U8(a) | TensorValue::U4(a) => a.shape(),
            TensorValue::Bool(a) => a.shape(),
        }
    }

    /// Converts an IR constant.
    ///
    /// # Errors
    /// [`UnsupportedDType`] for element types the executor does not run.
    pub fn from_tensor(t: &Tensor) -> Result<TensorValue, UnsupportedDType> {
        let shape = IxDyn(t.shape());
        let arr = |e| -> Result<TensorValue, UnsupportedDType> { Ok(e) };
        match (t.dtype(), t.data()) {
            (DType::F32, TensorData::F32(v)) => arr(TensorValue::F32(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::F64, TensorData::F64(v)) => arr(TensorValue::F64(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::I64, TensorData::I64(v)) => arr(TensorValue::I64(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::I32, TensorData::I32(v)) => arr(TensorValue::I32(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::I8, TensorData::I8(v)) => arr(TensorValue::I8(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::I4, TensorData::I8(v)) => arr(TensorValue::I4(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::U8, TensorData::U8(v)) => arr(TensorValue::U8(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::U4, TensorData::U8(v)) => arr(TensorValue::U4(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (DType::Bool, TensorData::Bool(v)) => arr(TensorValue::Bool(
                ArrayD::from_shape_vec(shape, v.clone()).expect("checked size"),
            )),
            (dtype, _) => Err(UnsupportedDType(dtype)),
        }
    }

    /// Converts back to an IR constant (used by constant folding).
    pub fn to_tensor(&self) -> Tensor {
        let shape = self.shape().to_vec();
        let (dtype, data) = match self {
            TensorValue::F32(a) => (DType::F32, TensorData::F32(a.iter().copied().collect())),
            TensorValue::F64(a) => (DType::F64, TensorData::F64(a.iter().copied().collect())),
            TensorValue::I64(a) => (DType::I64, TensorData::I64(a.iter().copied().collect())),
            TensorValue::I32(a) => (DType::I32, TensorData::I32(a.iter().copied().collect())),
            TensorValue::I8(a) => (DType::I8, TensorData::I8(a.iter().copied().collect())),
            TensorValue::I4(a) => (DType::I4, TensorData::I8(a.iter().copied().collect())),
            TensorValue::U8(a) => (DType::U8, TensorData::U8(a.iter().copied().collect())),
            TensorValue::U4(a) => (DType::U4, TensorData::U8(a.iter().copied().collect())),
            TensorValue::Bool(a) => (DType::Bool, TensorData::Bool(a.iter().copied().collect())),
        };
        Tensor::new(dtype, shape, data).expect("array size matches its shape")
    }

    /// The f32 array, if this is f32.
    pub fn as_f32(&self) -> Option<&ArrayD<f32>> {
        match self {
            TensorValue::F32(a) => Some(a),
            _ => None,
        }
    }

    /// The i64 array, if this is i64.
    pub fn as_i64(&self) -> Option<&ArrayD<i64>> {
        match self {
            TensorValue::I64(a) => Some(a),
            _ => None,
        }
    }
}

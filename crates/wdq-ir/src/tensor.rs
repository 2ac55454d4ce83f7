//! Constant tensors: initializers, `Constant` values and tensor attributes.
//!
//! Invariant: `data` holds exactly `shape.iter().product()` elements, in the
//! storage variant that [`TensorData::for_dtype`] names for `dtype`. Sub-byte
//! types (INT4, UINT4) are kept unpacked, one element per byte; packing is an
//! export concern.

use crate::DType;
use std::fmt;

/// Element storage of a [`Tensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    /// `i8`, and `i4` unpacked (values in -8..=7).
    I8(Vec<i8>),
    /// `u8`, and `u4` unpacked (values in 0..=15).
    U8(Vec<u8>),
    Bool(Vec<bool>),
    /// Every other fixed-width type, as little-endian bytes of `dtype.bits()/8` each.
    Bytes(Vec<u8>),
    Strings(Vec<Vec<u8>>),
}

impl TensorData {
    /// Number of elements stored.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
            TensorData::Bool(v) => v.len(),
            TensorData::Bytes(v) => v.len(),
            TensorData::Strings(v) => v.len(),
        }
    }

    /// Whether no element is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Storage variant name that `dtype` uses (for error messages and checks).
    pub fn for_dtype(dtype: DType) -> &'static str {
        match dtype {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::I64 => "I64",
            DType::I32 => "I32",
            DType::I8 | DType::I4 => "I8",
            DType::U8 | DType::U4 => "U8",
            DType::Bool => "Bool",
            DType::String => "Strings",
            _ => "Bytes",
        }
    }

    fn variant(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "F32",
            TensorData::F64(_) => "F64",
            TensorData::I64(_) => "I64",
            TensorData::I32(_) => "I32",
            TensorData::I8(_) => "I8",
            TensorData::U8(_) => "U8",
            TensorData::Bool(_) => "Bool",
            TensorData::Bytes(_) => "Bytes",
            TensorData::Strings(_) => "Strings",
        }
    }
}

/// A constant tensor.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    data: TensorData,
}

/// Why a tensor could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TensorError {
    #[error("tensor of shape {shape:?} needs {expected} elements, got {got}")]
    ElementCount {
        shape: Vec<usize>,
        expected: usize,
        got: usize,
    },
    #[error("element type {dtype} cannot be stored as {got}")]
    Storage { dtype: DType, got: &'static str },
}

impl Tensor {
    /// Builds a tensor, checking the storage variant and element count.
    ///
    /// # Errors
    /// [`TensorError`] when `data` has the wrong variant for `dtype` or the
    /// wrong number of elements for `shape` (for `Bytes`, of bytes).
    pub fn new(dtype: DType, shape: Vec<usize>, data: TensorData) -> Result<Tensor, TensorError> {
        if data.variant() != TensorData::for_dtype(dtype) {
            return Err(TensorError::Storage {
                dtype,
                got: data.variant(),
            });
        }
        let count: usize = shape.iter().product();
        let expected = match &data {
            TensorData::Bytes(_) => count * dtype.bits() / 8,
            _ => count,
        };
        if data.len() != expected {
            return Err(TensorError::ElementCount {
                shape,
                expected,
                got: data.len(),
            });
        }
        Ok(Tensor { dtype, shape, data })
    }

    /// An f32 tensor. # Panics if `values.len()` differs from the shape's size.
    pub fn from_f32(shape: Vec<usize>, values: Vec<f32>) -> Tensor {
        Tensor::new(DType::F32, shape, TensorData::F32(values)).expect("f32 tensor size")
    }

    /// An i64 tensor. # Panics if `values.len()` differs from the shape's size.
    pub fn from_i64(shape: Vec<usize>, values: Vec<i64>) -> Tensor {
        Tensor::new(DType::I64, shape, TensorData::I64(values)).expect("i64 tensor size")
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn data(&self) -> &TensorData {
        &self.data
    }
    pub fn into_data(self) -> TensorData {
        self.data
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The f32 elements, if this is an f32 tensor.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }

    /// The i64 elements, if this is an i64 tensor.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The elements as i64 for any integer or bool tensor (shape math reads
    /// axes, pads and shapes this way whatever their declared type).
    pub fn to_i64_vec(&self) -> Option<Vec<i64>> {
        Some(match &self.data {
            TensorData::I64(v) => v.clone(),
            TensorData::I32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::U8(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as i64).collect(),
            _ => return None,
        })
    }

    /// The elements converted to f32 for f32, f64 and integer tensors.
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        Some(match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::F64(v) => v.iter().map(|&x| x as f32).collect(),
            _ => self.to_i64_vec()?.into_iter().map(|x| x as f32).collect(),
        })
    }

    /// Bytes this tensor takes in an ONNX file (sub-byte types packed).
    pub fn storage_bytes(&self) -> usize {
        match &self.data {
            TensorData::Strings(v) => v.iter().map(Vec::len).sum(),
            _ => (self.len() * self.dtype.bits()).div_ceil(8),
        }
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:?}", self.dtype, self.shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_count_and_storage() {
        assert!(matches!(
            Tensor::new(DType::F32, vec![2, 2], TensorData::F32(vec![0.0; 3])),
            Err(TensorError::ElementCount { expected: 4, .. })
        ));
        assert!(matches!(
            Tensor::new(DType::I4, vec![2], TensorData::U8(vec![0; 2])),
            Err(TensorError::Storage { .. })
        ));
        let half = Tensor::new(DType::F16, vec![3], TensorData::Bytes(vec![0; 6])).unwrap();
        assert_eq!(half.storage_bytes(), 6);
        let int4 = Tensor::new(DType::I4, vec![3], TensorData::I8(vec![-8, 0, 7])).unwrap();
        assert_eq!(int4.storage_bytes(), 2);
    }
}

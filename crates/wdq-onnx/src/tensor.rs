//! `TensorProto` to [`Tensor`] and back.
//!
//! Import reads `raw_data`, external data and every typed field the spec
//! allows for each element type (`int32_data` also carries the 8- and
//! 16-bit types, half floats as bit patterns, and 4-bit types two to an
//! entry). Sizes are checked before anything is allocated. Export always
//! writes little-endian `raw_data` (strings in `string_data`), INT4/UINT4
//! packed two to a byte, low nibble first.

use crate::external::ExternalResolver;
use crate::pb;
use crate::OnnxError;
use wdq_ir::{DType, Tensor, TensorData};

/// Converts an ONNX tensor, reading external data through `external`.
pub(crate) fn tensor_from_proto(
    proto: &pb::TensorProto,
    name: &str,
    external: &ExternalResolver,
) -> Result<Tensor, OnnxError> {
    let bad = |why: String| OnnxError::BadTensor {
        tensor: name.to_string(),
        why,
    };
    let code = proto.data_type.unwrap_or(0);
    let dtype = DType::from_onnx(code)
        .ok_or_else(|| bad(format!("element type code {code} is not supported")))?;
    if proto.segment.is_some() {
        return Err(bad("segmented tensors are not supported".to_string()));
    }
    let mut shape = Vec::with_capacity(proto.dims.len());
    let mut count: usize = 1;
    for &d in &proto.dims {
        let d = usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| bad(format!("shape {:?} overflows", proto.dims)))?;
        shape.push(d);
    }
    let data = if ExternalResolver::is_external(proto) {
        let raw = external.read(name, &proto.external_data)?;
        from_raw(dtype, count, &raw).map_err(bad)?
    } else if let Some(raw) = &proto.raw_data {
        from_raw(dtype, count, raw).map_err(bad)?
    } else {
        from_typed(dtype, count, proto).map_err(bad)?
    };
    Tensor::new(dtype, shape, data).map_err(|e| bad(e.to_string()))
}

/// Converts an IR tensor to ONNX, data inline in `raw_data`.
pub(crate) fn tensor_to_proto(tensor: &Tensor, name: Option<&str>) -> pb::TensorProto {
    let mut proto = pb::TensorProto {
        dims: tensor.shape().iter().map(|&d| d as i64).collect(),
        data_type: Some(tensor.dtype().onnx_code()),
        name: name.map(str::to_string),
        ..Default::default()
    };
    let raw: Vec<u8> = match tensor.data() {
        TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I8(v) if tensor.dtype() == DType::I4 => {
            pack_nibbles(&v.iter().map(|&x| x as u8).collect::<Vec<_>>())
        }
        TensorData::U8(v) if tensor.dtype() == DType::U4 => pack_nibbles(v),
        TensorData::I8(v) => v.iter().map(|&x| x as u8).collect(),
        TensorData::U8(v) => v.clone(),
        TensorData::Bool(v) => v.iter().map(|&b| u8::from(b)).collect(),
        TensorData::Bytes(v) => v.clone(),
        TensorData::Strings(v) => {
            proto.string_data = v.clone();
            return proto;
        }
    };
    proto.raw_data = Some(raw);
    proto
}

/// Packs 4-bit values two to a byte, the first in the low nibble.
pub(crate) fn pack_nibbles(values: &[u8]) -> Vec<u8> {
    values
        .chunks(2)
        .map(|pair| (pair[0] & 0x0f) | (pair.get(1).copied().unwrap_or(0) << 4))
        .collect()
}

/// Unpacks `count` 4-bit values (low nibble first) as unsigned 0..=15.
pub(crate) fn unpack_u4(bytes: &[u8], count: usize) -> Vec<u8> {
    (0..count)
        .map(|i| (bytes[i / 2] >> ((i % 2) * 4)) & 0x0f)
        .collect()
}

/// Unpacks `count` 4-bit values (low nibble first) as signed -8..=7.
pub(crate) fn unpack_i4(bytes: &[u8], count: usize) -> Vec<i8> {
    unpack_u4(bytes, count)
        .into_iter()
        .map(|n| ((n << 4) as i8) >> 4)
        .collect()
}

/// Bytes of raw storage that `count` elements of `dtype` take.
fn raw_len(dtype: DType, count: usize) -> Option<usize> {
    count.checked_mul(dtype.bits()).map(|b| b.div_ceil(8))
}

fn from_raw(dtype: DType, count: usize, raw: &[u8]) -> Result<TensorData, String> {
    if dtype == DType::String {
        return Err("string tensors cannot use raw_data".to_string());
    }
    let expected = raw_len(dtype, count).ok_or("size overflows")?;
    if raw.len() != expected {
        return Err(format!(
            "{count} elements of {dtype} need {expected} bytes, the data has {}",
            raw.len()
        ));
    }
    Ok(match dtype {
        DType::F32 => TensorData::F32(le(raw, f32::from_le_bytes)),
        DType::F64 => TensorData::F64(le(raw, f64::from_le_bytes)),
        DType::I64 => TensorData::I64(le(raw, i64::from_le_bytes)),
        DType::I32 => TensorData::I32(le(raw, i32::from_le_bytes)),
        DType::I8 => TensorData::I8(raw.iter().map(|&b| b as i8).collect()),
        DType::U8 => TensorData::U8(raw.to_vec()),
        DType::Bool => TensorData::Bool(raw.iter().map(|&b| b != 0).collect()),
        DType::I4 => TensorData::I8(unpack_i4(raw, count)),
        DType::U4 => TensorData::U8(unpack_u4(raw, count)),
        _ => TensorData::Bytes(raw.to_vec()),
    })
}

fn le<const N: usize, T>(raw: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
    raw.chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            f(a)
        })
        .collect()
}

/// Which typed field the spec uses for `dtype`, and how many entries
/// `count` elements take there.
fn typed_field(dtype: DType, count: usize) -> Option<(&'static str, usize)> {
    use DType::*;
    Some(match dtype {
        F32 => ("float_data", count),
        Complex64 => ("float_data", count.checked_mul(2)?),
        F64 => ("double_data", count),
        Complex128 => ("double_data", count.checked_mul(2)?),
        I64 => ("int64_data", count),
        U32 | U64 => ("uint64_data", count),
        String => ("string_data", count),
        I4 | U4 | F4E2M1 => ("int32_data", count.div_ceil(2)),
        _ => ("int32_data", count),
    })
}

fn field_len(proto: &pb::TensorProto, field: &str) -> usize {
    match field {
        "float_data" => proto.float_data.len(),
        "double_data" => proto.double_data.len(),
        "int64_data" => proto.int64_data.len(),
        "uint64_data" => proto.uint64_data.len(),
        "string_data" => proto.string_data.len(),
        _ => proto.int32_data.len(),
    }
}

fn from_typed(dtype: DType, count: usize, proto: &pb::TensorProto) -> Result<TensorData, String> {
    use DType::*;
    let (field, expected) = typed_field(dtype, count).ok_or("size overflows")?;
    let got = field_len(proto, field);
    if got != expected {
        let others = [
            "float_data",
            "double_data",
            "int64_data",
            "uint64_data",
            "string_data",
            "int32_data",
        ];
        let elsewhere = others
            .iter()
            .find(|&&f| f != field && field_len(proto, f) > 0);
        return Err(match (got, elsewhere) {
            (0, Some(other)) => format!("element type {dtype} cannot be stored in {other}"),
            _ => format!(
                "{count} elements of {dtype} need {expected} entries in {field}, found {got}"
            ),
        });
    }
    let ints = &proto.int32_data;
    Ok(match dtype {
        F32 => TensorData::F32(proto.float_data.clone()),
        Complex64 => TensorData::Bytes(
            proto
                .float_data
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        F64 => TensorData::F64(proto.double_data.clone()),
        Complex128 => TensorData::Bytes(
            proto
                .double_data
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        I64 => TensorData::I64(proto.int64_data.clone()),
        U32 => TensorData::Bytes(
            proto
                .uint64_data
                .iter()
                .flat_map(|&x| (x as u32).to_le_bytes())
                .collect(),
        ),
        U64 => TensorData::Bytes(
            proto
                .uint64_data
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        String => TensorData::Strings(proto.string_data.clone()),
        I32 => TensorData::I32(ints.clone()),
        I8 => TensorData::I8(ints.iter().map(|&x| x as i8).collect()),
        U8 => TensorData::U8(ints.iter().map(|&x| x as u8).collect()),
        Bool => TensorData::Bool(ints.iter().map(|&x| x != 0).collect()),
        I16 | U16 | F16 | BF16 => TensorData::Bytes(
            ints.iter()
                .flat_map(|&x| (x as u16).to_le_bytes())
                .collect(),
        ),
        I4 | U4 | F4E2M1 => {
            let bytes: Vec<u8> = ints.iter().map(|&x| x as u8).collect();
            match dtype {
                I4 => TensorData::I8(unpack_i4(&bytes, count)),
                U4 => TensorData::U8(unpack_u4(&bytes, count)),
                _ => TensorData::Bytes(bytes),
            }
        }
        F8E4M3FN | F8E4M3FNUZ | F8E5M2 | F8E5M2FNUZ => {
            TensorData::Bytes(ints.iter().map(|&x| x as u8).collect())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> ExternalResolver {
        ExternalResolver::new(None)
    }

    #[test]
    fn int4_packs_low_nibble_first_and_sign_extends() {
        let values: Vec<i8> = vec![-8, 7, -1, 0, 3];
        let t = Tensor::new(DType::I4, vec![5], TensorData::I8(values.clone())).unwrap();
        let proto = tensor_to_proto(&t, Some("w"));
        assert_eq!(proto.raw_data.as_deref(), Some(&[0x78, 0x0f, 0x03][..]));
        let back = tensor_from_proto(&proto, "w", &resolver()).unwrap();
        assert_eq!(back, t);
        let u = Tensor::new(DType::U4, vec![3], TensorData::U8(vec![15, 0, 9])).unwrap();
        let back = tensor_from_proto(&tensor_to_proto(&u, None), "u", &resolver()).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn typed_fields_are_read() {
        let proto = pb::TensorProto {
            dims: vec![3],
            data_type: Some(DType::I4.onnx_code()),
            int32_data: vec![0x78, 0x0f],
            ..Default::default()
        };
        let t = tensor_from_proto(&proto, "x", &resolver()).unwrap();
        assert_eq!(t.data(), &TensorData::I8(vec![-8, 7, -1]));
        let proto = pb::TensorProto {
            dims: vec![2],
            data_type: Some(DType::F16.onnx_code()),
            int32_data: vec![0x3c00, 0xc000],
            ..Default::default()
        };
        let t = tensor_from_proto(&proto, "h", &resolver()).unwrap();
        assert_eq!(t.data(), &TensorData::Bytes(vec![0x00, 0x3c, 0x00, 0xc0]));
        let proto = pb::TensorProto {
            dims: vec![2],
            data_type: Some(DType::U32.onnx_code()),
            uint64_data: vec![1, 0xffff_ffff],
            ..Default::default()
        };
        let t = tensor_from_proto(&proto, "u", &resolver()).unwrap();
        assert_eq!(
            t.data(),
            &TensorData::Bytes(vec![1, 0, 0, 0, 255, 255, 255, 255])
        );
    }

    #[test]
    fn wrong_sizes_and_types_are_refused() {
        let proto = pb::TensorProto {
            dims: vec![2, 3],
            data_type: Some(1),
            float_data: vec![1.0; 5],
            ..Default::default()
        };
        let err = tensor_from_proto(&proto, "w", &resolver()).unwrap_err();
        assert!(err.to_string().contains("tensor `w`"), "{err}");
        let proto = pb::TensorProto {
            dims: vec![i64::MAX, i64::MAX],
            data_type: Some(1),
            raw_data: Some(vec![0; 4]),
            ..Default::default()
        };
        assert!(tensor_from_proto(&proto, "big", &resolver()).is_err());
        let proto = pb::TensorProto {
            dims: vec![1],
            data_type: Some(99),
            ..Default::default()
        };
        assert!(tensor_from_proto(&proto, "odd", &resolver()).is_err());
        let proto = pb::TensorProto {
            dims: vec![2],
            data_type: Some(7),
            float_data: vec![1.0, 2.0],
            ..Default::default()
        };
        let err = tensor_from_proto(&proto, "mixed", &resolver()).unwrap_err();
        assert!(err.to_string().contains("float_data"), "{err}");
    }
}

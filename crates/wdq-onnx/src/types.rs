//! `TypeProto` to [`TensorType`] and back. Only tensor types have an IR
//! form; dimension denotations are not kept.

use crate::pb;
use crate::pb::tensor_shape_proto::dimension::Value as DimValue;
use crate::pb::type_proto::Value as TypeValue;
use wdq_ir::{DType, Dim, TensorType};

/// The IR type of a declared type: `Ok(None)` when nothing is declared,
/// `Err(why)` when the declaration has no IR form.
pub(crate) fn type_from_proto(proto: Option<&pb::TypeProto>) -> Result<Option<TensorType>, String> {
    let Some(value) = proto.and_then(|t| t.value.as_ref()) else {
        return Ok(None);
    };
    let tensor = match value {
        TypeValue::TensorType(t) => t,
        TypeValue::SequenceType(_) => return Err("sequence types are not supported".into()),
        TypeValue::MapType(_) => return Err("map types are not supported".into()),
        TypeValue::OptionalType(_) => return Err("optional types are not supported".into()),
        TypeValue::SparseTensorType(_) => {
            return Err("sparse tensor types are not supported".into())
        }
        TypeValue::OpaqueType(_) => return Err("opaque types are not supported".into()),
    };
    let code = tensor.elem_type.unwrap_or(0);
    let dtype =
        DType::from_onnx(code).ok_or(format!("element type code {code} is not supported"))?;
    let shape = tensor.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(DimValue::DimValue(n)) => usize::try_from(*n).map_or(Dim::Unknown, Dim::Known),
                Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Named(p.clone()),
                _ => Dim::Unknown,
            })
            .collect()
    });
    Ok(Some(TensorType { dtype, shape }))
}

/// The ONNX form of an IR type.
pub(crate) fn type_to_proto(ty: &TensorType) -> pb::TypeProto {
    let shape = ty.shape.as_ref().map(|dims| pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| pb::tensor_shape_proto::Dimension {
                denotation: None,
                value: match d {
                    Dim::Known(n) => Some(DimValue::DimValue(*n as i64)),
                    Dim::Named(s) => Some(DimValue::DimParam(s.clone())),
                    Dim::Unknown => None,
                },
            })
            .collect(),
    });
    pb::TypeProto {
        denotation: None,
        value: Some(TypeValue::TensorType(pb::type_proto::Tensor {
            elem_type: Some(ty.dtype.onnx_code()),
            shape,
        })),
    }
}

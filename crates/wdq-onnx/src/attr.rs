//! `AttributeProto` to IR attributes and back.
//!
//! Attributes of the kinds the closed op set uses become [`Attr`]; any other
//! kind (graphs, sparse tensors, type protos, references to function
//! attributes, non-UTF-8 strings) makes the node opaque, and an opaque
//! node's attributes stay encoded as `AttributeProto` bytes in
//! [`OpaqueAttr::encoded`].

use crate::external::ExternalResolver;
use crate::pb;
use crate::pb::attribute_proto::AttributeType;
use crate::tensor::{tensor_from_proto, tensor_to_proto};
use crate::OnnxError;
use prost::Message;
use std::sync::Arc;
use wdq_ir::{Attr, AttrValue, OpaqueAttr};

/// The IR form of an attribute, `Ok(None)` when its kind only fits an
/// opaque node.
pub(crate) fn attr_from_proto(
    proto: &pb::AttributeProto,
    external: &ExternalResolver,
) -> Result<Option<Attr>, OnnxError> {
    let name = proto.name.clone().unwrap_or_default();
    if proto.ref_attr_name.is_some() {
        return Ok(None);
    }
    let utf8 = |b: &Vec<u8>| String::from_utf8(b.clone()).ok();
    let value = match attribute_type(proto) {
        AttributeType::Float => AttrValue::Float(proto.f.unwrap_or(0.0)),
        AttributeType::Int => AttrValue::Int(proto.i.unwrap_or(0)),
        AttributeType::String => match proto.s.as_ref().map_or(Some(String::new()), utf8) {
            Some(s) => AttrValue::String(s),
            None => return Ok(None),
        },
        AttributeType::Tensor => {
            let Some(t) = &proto.t else { return Ok(None) };
            let label = t
                .name
                .clone()
                .unwrap_or_else(|| format!("attribute {name}"));
            AttrValue::Tensor(Arc::new(tensor_from_proto(t, &label, external)?))
        }
        AttributeType::Floats => AttrValue::Floats(proto.floats.clone()),
        AttributeType::Ints => AttrValue::Ints(proto.ints.clone()),
        AttributeType::Strings => match proto.strings.iter().map(utf8).collect() {
            Some(v) => AttrValue::Strings(v),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Attr { name, value }))
}

/// The declared kind of an attribute, inferred from the field in use when
/// the file leaves `type` out (IR version 1).
fn attribute_type(proto: &pb::AttributeProto) -> AttributeType {
    if let Some(t) = proto.r#type.and_then(|t| AttributeType::try_from(t).ok()) {
        if t != AttributeType::Undefined {
            return t;
        }
    }
    if proto.f.is_some() {
        AttributeType::Float
    } else if proto.i.is_some() {
        AttributeType::Int
    } else if proto.s.is_some() {
        AttributeType::String
    } else if proto.t.is_some() {
        AttributeType::Tensor
    } else if proto.g.is_some() {
        AttributeType::Graph
    } else if !proto.floats.is_empty() {
        AttributeType::Floats
    } else if !proto.ints.is_empty() {
        AttributeType::Ints
    } else if !proto.strings.is_empty() {
        AttributeType::Strings
    } else {
        AttributeType::Undefined
    }
}

/// The ONNX form of an IR attribute.
pub(crate) fn attr_to_proto(attr: &Attr) -> pb::AttributeProto {
    let mut proto = pb::AttributeProto {
        name: Some(attr.name.clone()),
        ..Default::default()
    };
    let kind = match &attr.value {
        AttrValue::Float(x) => {
            proto.f = Some(*x);
            AttributeType::Float
        }
        AttrValue::Int(x) => {
            proto.i = Some(*x);
            AttributeType::Int
        }
        AttrValue::String(s) => {
            proto.s = Some(s.clone().into_bytes());
            AttributeType::String
        }
        AttrValue::Tensor(t) => {
            proto.t = Some(tensor_to_proto(t, None));
            AttributeType::Tensor
        }
        AttrValue::Floats(v) => {
            proto.floats = v.clone();
            AttributeType::Floats
        }
        AttrValue::Ints(v) => {
            proto.ints = v.clone();
            AttributeType::Ints
        }
        AttrValue::Strings(v) => {
            proto.strings = v.iter().map(|s| s.clone().into_bytes()).collect();
            AttributeType::Strings
        }
    };
    proto.r#type = Some(kind as i32);
    proto
}

/// Encodes an attribute the way import keeps those of opaque nodes, for
/// passes that build or edit opaque nodes.
pub fn opaque_attr(attr: &Attr) -> OpaqueAttr {
    OpaqueAttr {
        name: attr.name.clone(),
        encoded: attr_to_proto(attr).encode_to_vec(),
    }
}

/// Reads an opaque node's attribute back as an IR attribute, `None` when it
/// is not valid `AttributeProto` bytes or its kind has no IR form (graphs,
/// sparse tensors, type protos, references, non-UTF-8 strings, tensors
/// with external data).
pub fn decode_opaque_attr(attr: &OpaqueAttr) -> Option<Attr> {
    let proto = pb::AttributeProto::decode(attr.encoded.as_slice()).ok()?;
    let mut out = attr_from_proto(&proto, &ExternalResolver::new(None)).ok()??;
    out.name = attr.name.clone();
    Some(out)
}

/// Decodes an opaque attribute for export; its name is the IR's.
pub(crate) fn opaque_to_proto(
    attr: &OpaqueAttr,
    node: &str,
    op: &str,
) -> Result<pb::AttributeProto, OnnxError> {
    let mut proto = pb::AttributeProto::decode(attr.encoded.as_slice()).map_err(|e| {
        OnnxError::BadAttribute {
            node: node.to_string(),
            op: op.to_string(),
            attr: attr.name.clone(),
            why: format!("encoded bytes are not an AttributeProto: {e}"),
        }
    })?;
    proto.name = Some(attr.name.clone());
    Ok(proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ir_kind_round_trips() {
        let values = [
            AttrValue::Float(0.5),
            AttrValue::Int(-3),
            AttrValue::String("nearest".into()),
            AttrValue::Tensor(Arc::new(wdq_ir::Tensor::from_i64(vec![2], vec![1, 2]))),
            AttrValue::Floats(vec![1.0, 2.5]),
            AttrValue::Ints(vec![]),
            AttrValue::Strings(vec!["a".into(), "".into()]),
        ];
        for value in values {
            let attr = Attr {
                name: "x".into(),
                value,
            };
            assert_eq!(decode_opaque_attr(&opaque_attr(&attr)), Some(attr));
        }
    }

    #[test]
    fn exotic_kinds_are_left_opaque() {
        let graph = pb::AttributeProto {
            name: Some("then_branch".into()),
            r#type: Some(AttributeType::Graph as i32),
            g: Some(pb::GraphProto::default()),
            ..Default::default()
        };
        assert_eq!(
            attr_from_proto(&graph, &ExternalResolver::new(None)).unwrap(),
            None
        );
        let reference = pb::AttributeProto {
            name: Some("alpha".into()),
            ref_attr_name: Some("a".into()),
            r#type: Some(AttributeType::Float as i32),
            ..Default::default()
        };
        assert_eq!(
            attr_from_proto(&reference, &ExternalResolver::new(None)).unwrap(),
            None
        );
        let latin1 = pb::AttributeProto {
            name: Some("mode".into()),
            r#type: Some(AttributeType::String as i32),
            s: Some(vec![0xff, 0xfe]),
            ..Default::default()
        };
        assert_eq!(
            attr_from_proto(&latin1, &ExternalResolver::new(None)).unwrap(),
            None
        );
    }
}

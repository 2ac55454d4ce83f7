//! Export: [`wdq_ir::Model`] to `ModelProto` bytes.
//!
//! The inverse of import: known ops get their attributes back as
//! `AttributeProto`, opaque ops their kept encodings; every tensor is
//! written inline; intermediate values with a type get a `value_info`.
//! Initializers that nothing reads (no live node, graph input or output,
//! subgraph, or training info) are left out, so that weights a pass has
//! replaced do not travel along. Output is deterministic.

use crate::attr::{attr_to_proto, opaque_to_proto};
use crate::import::FIELD_TRAINING_INFO;
use crate::pb;
use crate::scope::outer_references;
use crate::tensor::tensor_to_proto;
use crate::types::type_to_proto;
use crate::OnnxError;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;
use std::collections::HashSet;
use wdq_ir::{Graph, Model, Op, ValueDef, ValueId};

/// Encodes a model as ONNX bytes, every tensor inline. The same model always
/// gives the same bytes.
///
/// # Errors
/// [`OnnxError::Invalid`] when the graph breaks an IR invariant (see
/// [`wdq_ir::verify`]), [`OnnxError::BadAttribute`] when an opaque node's
/// kept attribute bytes do not decode.
pub fn encode_model(model: &Model) -> Result<Vec<u8>, OnnxError> {
    let keep_all = model
        .preserved
        .iter()
        .any(|(f, _)| *f == FIELD_TRAINING_INFO);
    let proto = pb::ModelProto {
        ir_version: Some(model.ir_version),
        opset_import: model
            .opsets
            .iter()
            .map(|o| pb::OperatorSetIdProto {
                domain: Some(o.domain.clone()),
                version: Some(o.version),
            })
            .collect(),
        producer_name: non_empty(&model.producer_name),
        producer_version: non_empty(&model.producer_version),
        domain: non_empty(&model.domain),
        model_version: (model.model_version != 0).then_some(model.model_version),
        doc_string: non_empty(&model.doc_string),
        graph: Some(graph_to_proto(&model.graph, keep_all)?),
        metadata_props: model
            .metadata
            .iter()
            .map(|(k, v)| pb::StringStringEntryProto {
                key: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect(),
        ..Default::default()
    };
    let mut bytes = proto.encode_to_vec();
    for (field, encoded) in &model.preserved {
        encode_key(*field, WireType::LengthDelimited, &mut bytes);
        encode_varint(encoded.len() as u64, &mut bytes);
        bytes.extend_from_slice(encoded);
    }
    Ok(bytes)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn graph_to_proto(graph: &Graph, keep_all_initializers: bool) -> Result<pb::GraphProto, OnnxError> {
    check_ids(graph)?;
    wdq_ir::verify(graph)?;
    let names = value_names(graph);
    let name = |v: ValueId| names[v.index()].clone();
    let mut nodes = Vec::with_capacity(graph.order.len());
    let mut read: HashSet<ValueId> = graph.inputs.iter().chain(&graph.outputs).copied().collect();
    let mut outer: HashSet<String> = HashSet::new();
    for (_, node) in graph.live_nodes() {
        read.extend(node.inputs.iter().flatten());
        let op_type = node.op.op_type().to_string();
        let attribute = match &node.op {
            Op::Opaque { attrs, .. } => attrs
                .iter()
                .map(|a| opaque_to_proto(a, &node.name, &op_type))
                .collect::<Result<Vec<_>, _>>()?,
            op => op.attrs().iter().map(attr_to_proto).collect(),
        };
        outer.extend(outer_references(&attribute));
        nodes.push(pb::NodeProto {
            input: node
                .inputs
                .iter()
                .map(|i| i.map(name).unwrap_or_default())
                .collect(),
            output: node
                .outputs
                .iter()
                .map(|o| o.map(name).unwrap_or_default())
                .collect(),
            name: non_empty(&node.name),
            op_type: Some(op_type),
            domain: non_empty(node.op.domain()),
            attribute,
            doc_string: non_empty(&node.doc_string),
            ..Default::default()
        });
    }
    let mut initializer = Vec::new();
    let mut value_info = Vec::new();
    let live: HashSet<_> = graph.order.iter().copied().collect();
    for (i, value) in graph.values.iter().enumerate() {
        let id = ValueId(i as u32);
        match &value.def {
            ValueDef::Initializer(t)
                if keep_all_initializers || read.contains(&id) || outer.contains(&value.name) =>
            {
                let mut proto = tensor_to_proto(t, Some(&names[i]));
                proto.doc_string = non_empty(&value.doc_string);
                initializer.push(proto);
            }
            ValueDef::Node { node, .. }
                if live.contains(node)
                    && !graph.outputs.contains(&id)
                    && (value.ty.is_some() || !value.doc_string.is_empty()) =>
            {
                value_info.push(value_info_proto(graph, id, &names[i]));
            }
            _ => {}
        }
    }
    Ok(pb::GraphProto {
        node: nodes,
        name: non_empty(&graph.name),
        initializer,
        doc_string: non_empty(&graph.doc_string),
        input: graph
            .inputs
            .iter()
            .map(|&v| value_info_proto(graph, v, &names[v.index()]))
            .collect(),
        output: graph
            .outputs
            .iter()
            .map(|&v| value_info_proto(graph, v, &names[v.index()]))
            .collect(),
        value_info,
        ..Default::default()
    })
}

/// Checks that every id the graph holds is inside its arena, which
/// [`wdq_ir::verify`] assumes.
fn check_ids(graph: &Graph) -> Result<(), OnnxError> {
    let values = graph.values.len();
    let dangling = |what: String| Err(OnnxError::DanglingId { what });
    for (kind, list) in [
        ("graph input", &graph.inputs),
        ("graph output", &graph.outputs),
    ] {
        if let Some(v) = list.iter().find(|v| v.index() >= values) {
            return dangling(format!("{kind} value #{}", v.0));
        }
    }
    for &id in &graph.order {
        let Some(node) = graph.nodes.get(id.index()) else {
            return dangling(format!("node #{} in the order", id.0));
        };
        if let Some(v) = node.outputs.iter().flatten().find(|v| v.index() >= values) {
            return dangling(format!(
                "value #{} as an output of node `{}`",
                v.0, node.name
            ));
        }
    }
    for (i, value) in graph.values.iter().enumerate() {
        if let ValueDef::Node { node, .. } = value.def {
            if node.index() >= graph.nodes.len() {
                return dangling(format!(
                    "node #{} as the definition of `{}` (#{i})",
                    node.0, value.name
                ));
            }
        }
    }
    Ok(())
}

fn value_info_proto(graph: &Graph, id: ValueId, name: &str) -> pb::ValueInfoProto {
    let value = graph.value(id);
    pb::ValueInfoProto {
        name: Some(name.to_string()),
        r#type: value.ty.as_ref().map(type_to_proto),
        doc_string: non_empty(&value.doc_string),
        ..Default::default()
    }
}

/// The name each value is written under: its own, or for unnamed values a
/// fresh `_v<index>` that no other value uses.
fn value_names(graph: &Graph) -> Vec<String> {
    let taken: HashSet<&str> = graph.values.iter().map(|v| v.name.as_str()).collect();
    graph
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if !v.name.is_empty() {
                return v.name.clone();
            }
            let mut candidate = format!("_v{i}");
            while taken.contains(candidate.as_str()) {
                candidate.push('_');
            }
            candidate
        })
        .collect()
}

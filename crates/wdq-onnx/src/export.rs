//! Export: [`wdq_ir::Model`] to `ModelProto` bytes.
//!
//! The inverse of import: known ops get their attributes back as
//! `AttributeProto`, opaque ops their kept encodings; every tensor is
//! written inline; intermediate values with a type get a `value_info`.
//! Initializers that nothing reads (no live node, graph input or output,
//! subgraph, or training info) are left out, so that weights a pass has
//! replaced do not travel along. Output is deterministic.

use crate::attr::{attr_to_proto, opaque_to_proto};
use crate::import::{FIELD_TRAINING_INFO, MIN_IR_VERSION};
use crate::opset::{ir_version_for_opset, MAX_TARGET};
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
/// The IR version written is the model's, raised only where the file would
/// otherwise be invalid: a model without a readable one (below
/// [`MIN_IR_VERSION`]) gets its default opset's, and an IR 3 model whose
/// initializers are not all graph inputs gets 4. A domain that nodes use but
/// the model does not import is written as imported at version 1 (the
/// default domain, at [`MAX_TARGET`]).
///
/// # Errors
/// [`OnnxError::DanglingId`] for ids outside the arena,
/// [`OnnxError::Invalid`] when the graph breaks an IR invariant (see
/// [`wdq_ir::verify`]), [`OnnxError::BadGraphInput`] for a graph input
/// defined by a node or an unlisted input value that is read,
/// [`OnnxError::BadAttribute`] when an opaque node's kept attribute bytes do
/// not decode.
pub fn encode_model(model: &Model) -> Result<Vec<u8>, OnnxError> {
    let keep_all = model
        .preserved
        .iter()
        .any(|(f, _)| *f == FIELD_TRAINING_INFO);
    let graph = graph_to_proto(&model.graph, keep_all)?;
    let proto = pb::ModelProto {
        ir_version: Some(ir_version(model, &graph)),
        opset_import: opset_imports(model, &graph),
        producer_name: non_empty(&model.producer_name),
        producer_version: non_empty(&model.producer_version),
        domain: non_empty(&model.domain),
        model_version: (model.model_version != 0).then_some(model.model_version),
        doc_string: non_empty(&model.doc_string),
        graph: Some(graph),
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

/// The model's opsets, plus version 1 of any domain a node uses that the
/// model does not import (such as the project's gradient domain).
fn opset_imports(model: &Model, graph: &pb::GraphProto) -> Vec<pb::OperatorSetIdProto> {
    let mut out: Vec<pb::OperatorSetIdProto> = model
        .opsets
        .iter()
        .map(|o| pb::OperatorSetIdProto {
            domain: Some(o.domain.clone()),
            version: Some(o.version),
        })
        .collect();
    for node in &graph.node {
        let domain = node.domain.as_deref().unwrap_or("");
        let default = domain.is_empty() || domain == "ai.onnx";
        let known = |o: &pb::OperatorSetIdProto| {
            let d = o.domain.as_deref().unwrap_or("");
            d == domain || (default && (d.is_empty() || d == "ai.onnx"))
        };
        if !out.iter().any(known) {
            out.push(pb::OperatorSetIdProto {
                domain: Some(domain.to_string()),
                version: Some(if default { MAX_TARGET } else { 1 }),
            });
        }
    }
    out
}

/// The IR version to write (see [`encode_model`]).
fn ir_version(model: &Model, graph: &pb::GraphProto) -> i64 {
    let mut version = model.ir_version;
    if version < MIN_IR_VERSION {
        version = ir_version_for_opset(model.default_opset().unwrap_or(MAX_TARGET));
    }
    let inputs: HashSet<&str> = graph
        .input
        .iter()
        .filter_map(|i| i.name.as_deref())
        .collect();
    let all_listed = graph
        .initializer
        .iter()
        .all(|t| t.name.as_deref().is_some_and(|n| inputs.contains(n)));
    if version < 4 && !all_listed {
        version = 4;
    }
    version
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn graph_to_proto(graph: &Graph, keep_all_initializers: bool) -> Result<pb::GraphProto, OnnxError> {
    check_ids(graph)?;
    wdq_ir::verify(graph)?;
    check_inputs(graph)?;
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
    let outputs: HashSet<ValueId> = graph.outputs.iter().copied().collect();
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
                    && !outputs.contains(&id)
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
pub(crate) fn check_ids(graph: &Graph) -> Result<(), OnnxError> {
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

/// Checks what export needs beyond [`wdq_ir::verify`]: graph inputs are
/// inputs or initializers, and every value of kind input that is read is
/// listed as a graph input.
fn check_inputs(graph: &Graph) -> Result<(), OnnxError> {
    let bad = |v: ValueId, why: &str| OnnxError::BadGraphInput {
        value: graph.value(v).name.clone(),
        why: why.to_string(),
    };
    if let Some(&v) = graph
        .inputs
        .iter()
        .find(|v| matches!(graph.value(**v).def, ValueDef::Node { .. }))
    {
        return Err(bad(v, "a node output is listed as a graph input"));
    }
    let read = graph
        .live_nodes()
        .flat_map(|(_, n)| n.inputs.iter().flatten())
        .chain(&graph.outputs);
    let listed: HashSet<ValueId> = graph.inputs.iter().copied().collect();
    for &v in read {
        if graph.value(v).def == ValueDef::Input && !listed.contains(&v) {
            return Err(bad(v, "it is read but is not listed as a graph input"));
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

//! The graph part of export: nodes, graph inputs and outputs, value infos,
//! and which initializers to write.
//!
//! Initializer tensors are not put in the `GraphProto`: [`super::encode_model`]
//! encodes them one at a time, so that a large model is not held twice.

use super::check::{check_ids, check_inputs};
use super::non_empty;
use crate::attr::{attr_to_proto, opaque_to_proto};
use crate::pb;
use crate::scope::outer_references;
use crate::tensor::tensor_to_proto;
use crate::types::type_to_proto;
use crate::OnnxError;
use std::collections::HashSet;
use wdq_ir::{Graph, Op, ValueDef, ValueId};

/// A graph ready to encode.
pub(super) struct GraphParts {
    /// Everything but the initializers.
    pub proto: pb::GraphProto,
    /// The initializer values to write, in arena order.
    initializers: Vec<ValueId>,
    /// The name each value is written under.
    names: Vec<String>,
}

/// Converts `graph`, choosing the initializers to write: those something
/// reads, or all of them with `keep_all_initializers`.
pub(super) fn graph_parts(
    graph: &Graph,
    keep_all_initializers: bool,
) -> Result<GraphParts, OnnxError> {
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
            metadata_props: metadata_props(&node.metadata),
            ..Default::default()
        });
    }
    let mut initializers = Vec::new();
    let mut value_info = Vec::new();
    let live: HashSet<_> = graph.order.iter().copied().collect();
    let outputs: HashSet<ValueId> = graph.outputs.iter().copied().collect();
    for (i, value) in graph.values.iter().enumerate() {
        let id = ValueId(i as u32);
        match &value.def {
            ValueDef::Initializer(_)
                if keep_all_initializers || read.contains(&id) || outer.contains(&value.name) =>
            {
                initializers.push(id);
            }
            ValueDef::Node { node, .. }
                if live.contains(node)
                    && !outputs.contains(&id)
                    && (value.ty.is_some()
                        || !value.doc_string.is_empty()
                        || !value.metadata.is_empty()) =>
            {
                value_info.push(value_info_proto(graph, id, &names[i]));
            }
            _ => {}
        }
    }
    let proto = pb::GraphProto {
        node: nodes,
        name: non_empty(&graph.name),
        doc_string: non_empty(&graph.doc_string),
        metadata_props: metadata_props(&graph.metadata),
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
    };
    Ok(GraphParts {
        proto,
        initializers,
        names,
    })
}

impl GraphParts {
    /// The `TensorProto` of each initializer to write, one at a time.
    pub(super) fn for_each_initializer(&self, graph: &Graph, mut f: impl FnMut(pb::TensorProto)) {
        for &id in &self.initializers {
            let value = graph.value(id);
            if let ValueDef::Initializer(t) = &value.def {
                let mut proto = tensor_to_proto(t, Some(&self.names[id.index()]));
                proto.doc_string = non_empty(&value.doc_string);
                proto.metadata_props = metadata_props(&value.metadata);
                f(proto);
            }
        }
    }

    /// Names of the initializers written.
    pub(super) fn initializer_names(&self) -> impl Iterator<Item = &str> {
        self.initializers
            .iter()
            .map(|v| self.names[v.index()].as_str())
    }
}

fn value_info_proto(graph: &Graph, id: ValueId, name: &str) -> pb::ValueInfoProto {
    let value = graph.value(id);
    pb::ValueInfoProto {
        name: Some(name.to_string()),
        r#type: value.ty.as_ref().map(type_to_proto),
        doc_string: non_empty(&value.doc_string),
        metadata_props: metadata_props(&value.metadata),
    }
}

/// (key, value) pairs as `metadata_props`.
pub(super) fn metadata_props(pairs: &[(String, String)]) -> Vec<pb::StringStringEntryProto> {
    pairs
        .iter()
        .map(|(k, v)| pb::StringStringEntryProto {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
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

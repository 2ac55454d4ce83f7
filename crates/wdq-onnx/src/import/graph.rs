//! Builds a [`Graph`] from a `GraphProto`: initializers, inputs, nodes in
//! topological order, declared types.
//!
//! Value ids are given in a fixed order (initializers, then the other graph
//! inputs, then node outputs in node order), so that importing what export
//! wrote reproduces the same arena. Nodes already in topological order keep
//! their order; otherwise they are sorted, each taking the earliest place
//! the file allows.

use crate::attr::attr_from_proto;
use crate::external::ExternalResolver;
use crate::pb;
use crate::scope::outer_references;
use crate::sparse::densify;
use crate::tensor::tensor_from_proto;
use crate::types::type_from_proto;
use crate::OnnxError;
use prost::Message;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use wdq_ir::{Graph, Node, NodeId, Op, OpaqueAttr, ValueDef, ValueId};

/// Builds the IR graph of `proto`.
pub(super) fn graph_from_proto(
    mut proto: pb::GraphProto,
    external: &ExternalResolver,
) -> Result<Graph, OnnxError> {
    let mut graph = Graph {
        name: proto.name.clone().unwrap_or_default(),
        doc_string: proto.doc_string.clone().unwrap_or_default(),
        metadata: metadata(&proto.metadata_props),
        ..Graph::default()
    };
    let mut by_name: HashMap<String, ValueId> = HashMap::new();
    // Each initializer's protobuf is dropped once converted, so that a large
    // model is not held twice. An external initializer that nothing reads
    // is left unread (export leaves unread initializers out anyway).
    let read = read_names(&proto);
    for init in std::mem::take(&mut proto.initializer) {
        let name = init.name.clone().unwrap_or_default();
        if ExternalResolver::is_external(&init) && !read.contains(name.as_str()) {
            continue;
        }
        if name.is_empty() {
            return Err(OnnxError::BadTensor {
                tensor: String::new(),
                why: "an initializer has no name".to_string(),
            });
        }
        if by_name.contains_key(&name) {
            return Err(OnnxError::DuplicateName { name });
        }
        let tensor = tensor_from_proto(&init, &name, external)?;
        let id = graph.add_initializer(name.clone(), tensor);
        graph.value_mut(id).doc_string = init.doc_string.clone().unwrap_or_default();
        graph.value_mut(id).metadata = metadata(&init.metadata_props);
        by_name.insert(name, id);
    }
    for sparse in &proto.sparse_initializer {
        let (name, tensor) = densify(sparse, external)?;
        if by_name.contains_key(&name) {
            return Err(OnnxError::DuplicateName { name });
        }
        let id = graph.add_initializer(name.clone(), tensor);
        by_name.insert(name, id);
    }
    let mut listed: HashSet<ValueId> = HashSet::new();
    for input in &proto.input {
        let name = input.name.clone().unwrap_or_default();
        let ty = type_from_proto(input.r#type.as_ref()).map_err(|why| OnnxError::BadType {
            value: name.clone(),
            why,
        })?;
        if name.is_empty() {
            return Err(OnnxError::BadType {
                value: name,
                why: "a graph input has no name".to_string(),
            });
        }
        super::checks::input_dims(&name, ty.as_ref())?;
        let id = match by_name.get(&name) {
            Some(&id) if listed.insert(id) => {
                if ty.is_some() {
                    graph.value_mut(id).ty = ty;
                }
                id
            }
            Some(_) => return Err(OnnxError::DuplicateName { name }),
            None => {
                let id = graph.add_value(name.clone(), ty, ValueDef::Input);
                by_name.insert(name, id);
                listed.insert(id);
                id
            }
        };
        if let Some(doc) = &input.doc_string {
            graph.value_mut(id).doc_string = doc.clone();
        }
        if !input.metadata_props.is_empty() {
            graph.value_mut(id).metadata = metadata(&input.metadata_props);
        }
        graph.inputs.push(id);
    }
    super::checks::nodes(&proto.node)?;
    for index in topological_order(&proto, &by_name)? {
        add_node(
            &mut graph,
            &mut by_name,
            &proto.node[index],
            index,
            external,
        )?;
    }
    for info in &proto.value_info {
        let Some(&id) = info.name.as_ref().and_then(|n| by_name.get(n)) else {
            continue;
        };
        if matches!(graph.value(id).def, ValueDef::Node { .. }) {
            if let Ok(Some(ty)) = type_from_proto(info.r#type.as_ref()) {
                graph.value_mut(id).ty = Some(ty);
            }
            if let Some(doc) = &info.doc_string {
                graph.value_mut(id).doc_string = doc.clone();
            }
            graph.value_mut(id).metadata = metadata(&info.metadata_props);
        }
    }
    for output in &proto.output {
        let name = output.name.clone().unwrap_or_default();
        let id = *by_name.get(&name).ok_or_else(|| OnnxError::MissingOutput {
            value: name.clone(),
        })?;
        let ty = type_from_proto(output.r#type.as_ref()).map_err(|why| OnnxError::BadType {
            value: name.clone(),
            why,
        })?;
        if ty.is_some() {
            graph.value_mut(id).ty = ty;
        }
        if let Some(doc) = &output.doc_string {
            graph.value_mut(id).doc_string = doc.clone();
        }
        if !output.metadata_props.is_empty() {
            graph.value_mut(id).metadata = metadata(&output.metadata_props);
        }
        graph.outputs.push(id);
    }
    Ok(graph)
}

/// `metadata_props` as (key, value) pairs, in file order.
pub(super) fn metadata(props: &[pb::StringStringEntryProto]) -> Vec<(String, String)> {
    props
        .iter()
        .map(|p| {
            (
                p.key.clone().unwrap_or_default(),
                p.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Every name a graph reads: node inputs (in subgraphs too, which may read
/// the outer scope), graph inputs and graph outputs.
fn read_names(proto: &pb::GraphProto) -> HashSet<String> {
    fn walk(g: &pb::GraphProto, names: &mut HashSet<String>) {
        for node in &g.node {
            names.extend(node.input.iter().cloned());
            for a in &node.attribute {
                for sub in a.g.iter().chain(a.graphs.iter()) {
                    walk(sub, names);
                }
            }
        }
        names.extend(g.output.iter().filter_map(|o| o.name.clone()));
    }
    let mut names: HashSet<String> = proto.input.iter().filter_map(|i| i.name.clone()).collect();
    walk(proto, &mut names);
    names
}

/// How error messages name a node: its name, or its position in the file.
pub(crate) fn node_label(proto: &pb::NodeProto, index: usize) -> String {
    match proto.name.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("#{index}"),
    }
}

/// Node indices in a topological order, the file's order where it is one.
pub(crate) fn topological_order(
    proto: &pb::GraphProto,
    defined: &HashMap<String, ValueId>,
) -> Result<Vec<usize>, OnnxError> {
    let nodes = &proto.node;
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            if defined.contains_key(out.as_str()) || producer.insert(out, i).is_some() {
                return Err(OnnxError::DuplicateName { name: out.clone() });
            }
        }
    }
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut waiting: Vec<usize> = vec![0; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        for input in node.input.iter().filter(|n| !n.is_empty()) {
            if defined.contains_key(input.as_str()) {
                continue;
            }
            let &from = producer
                .get(input.as_str())
                .ok_or_else(|| OnnxError::MissingInput {
                    node: node_label(node, i),
                    op: node.op_type.clone().unwrap_or_default(),
                    value: input.clone(),
                })?;
            users[from].push(i);
            waiting[i] += 1;
        }
        for name in outer_references(&node.attribute) {
            if let Some(&from) = producer.get(name.as_str()) {
                users[from].push(i);
                waiting[i] += 1;
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..nodes.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &user in &users[i] {
            waiting[user] -= 1;
            if waiting[user] == 0 {
                ready.push(Reverse(user));
            }
        }
    }
    if let Some(stuck) = (0..nodes.len()).find(|&i| waiting[i] > 0) {
        return Err(OnnxError::Cycle {
            node: node_label(&nodes[stuck], stuck),
        });
    }
    Ok(order)
}

pub(crate) fn add_node(
    graph: &mut Graph,
    by_name: &mut HashMap<String, ValueId>,
    proto: &pb::NodeProto,
    index: usize,
    external: &ExternalResolver,
) -> Result<(), OnnxError> {
    let op = op_from_proto(proto, index, external)?;
    let inputs = proto
        .input
        .iter()
        .map(|name| match name.as_str() {
            "" => None,
            n => by_name.get(n).copied(),
        })
        .collect();
    let id = NodeId(graph.nodes.len() as u32);
    let mut outputs = Vec::with_capacity(proto.output.len());
    for (slot, name) in proto.output.iter().enumerate() {
        if name.is_empty() {
            outputs.push(None);
            continue;
        }
        let value = graph.add_value(name.clone(), None, ValueDef::Node { node: id, slot });
        by_name.insert(name.clone(), value);
        outputs.push(Some(value));
    }
    graph.nodes.push(Node {
        name: proto.name.clone().unwrap_or_default(),
        op,
        inputs,
        outputs,
        doc_string: proto.doc_string.clone().unwrap_or_default(),
        metadata: metadata(&proto.metadata_props),
    });
    graph.order.push(id);
    Ok(())
}

/// The IR op of a node: a closed-set op when the node is in the default
/// domain and every attribute fits, otherwise an opaque op.
fn op_from_proto(
    proto: &pb::NodeProto,
    index: usize,
    external: &ExternalResolver,
) -> Result<Op, OnnxError> {
    let op_type = proto.op_type.clone().unwrap_or_default();
    if op_type.is_empty() {
        return Err(OnnxError::BadNode {
            node: node_label(proto, index),
            why: "no op_type".to_string(),
        });
    }
    let domain = proto.domain.clone().unwrap_or_default();
    if domain.is_empty() || domain == "ai.onnx" {
        let mut attrs = Vec::with_capacity(proto.attribute.len());
        for a in &proto.attribute {
            match attr_from_proto(a, external)? {
                Some(attr) => attrs.push(attr),
                None => break,
            }
        }
        if attrs.len() == proto.attribute.len() {
            match Op::from_onnx(&op_type, &attrs) {
                Some(Ok(op)) => return Ok(op),
                Some(Err(e)) => {
                    if let Some((expected, found)) = e.wrong_kind {
                        return Err(OnnxError::BadAttribute {
                            node: node_label(proto, index),
                            why: format!(
                                "the value is {found}, {op_type} takes {expected}; the model is malformed (re-export it)"
                            ),
                            op: op_type,
                            attr: e.name,
                        });
                    }
                }
                _ => {}
            }
        }
    }
    let mut encoded = Vec::with_capacity(proto.attribute.len());
    for a in &proto.attribute {
        let mut a = a.clone();
        external.inline_attribute(&mut a)?;
        encoded.push(OpaqueAttr {
            name: a.name.clone().unwrap_or_default(),
            encoded: a.encode_to_vec(),
        });
    }
    Ok(Op::Opaque {
        domain,
        op_type,
        attrs: encoded,
    })
}

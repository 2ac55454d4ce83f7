//! Specialising an `If` whose condition is known: the taken branch's nodes
//! and initializers move into the graph in the `If`'s place, and the `If`'s
//! output values (names, declared types, graph outputs) are written by the
//! branch's nodes from then on.
//!
//! Names the branch defines that the graph already uses get a fresh name
//! (`NAME__N`; sub-graphs inside the branch that read such a name are not
//! rewritten); names the branch reads from the outer scope resolve to the
//! graph's values. The branch's nodes pass the checks import makes. A branch output that the branch does not compute itself
//! (an outer value, a branch initializer, or one computed value given as two
//! outputs) reaches the `If`'s output through an `Identity` node.

use crate::external::ExternalResolver;
use crate::import::{add_node, check_nodes, topological_order};
use crate::pb;
use crate::tensor::tensor_from_proto;
use crate::OnnxError;
use prost::Message;
use std::collections::{HashMap, HashSet};
use wdq_ir::{Graph, NodeId, Op, ValueDef, ValueId};

/// Whether `node` is a default-domain `If`.
pub fn is_if(graph: &Graph, node: NodeId) -> bool {
    matches!(&graph.node(node).op,
        Op::Opaque { domain, op_type, .. } if op_type == "If" && (domain.is_empty() || domain == "ai.onnx"))
}

/// Replaces the `If` node `node` by its `then_branch` (`take_then`) or its
/// `else_branch`.
///
/// # Errors
/// [`OnnxError::BadNode`] naming the node when it is not an `If`, its
/// branch is missing or cannot be decoded, the branch's output count differs
/// from the node's, or the branch reads a name no scope defines; the import
/// errors of the branch's own nodes and tensors.
pub fn inline_if(graph: &mut Graph, node: NodeId, take_then: bool) -> Result<(), OnnxError> {
    let label = graph.node_label(node);
    let bad = |why: String| OnnxError::BadNode {
        node: label.clone(),
        why,
    };
    let Op::Opaque { attrs, .. } = &graph.node(node).op else {
        return Err(bad("not an If node".into()));
    };
    if !is_if(graph, node) {
        return Err(bad("not an If node".into()));
    }
    let wanted = if take_then {
        "then_branch"
    } else {
        "else_branch"
    };
    let branch = attrs
        .iter()
        .find(|a| a.name == wanted)
        .ok_or_else(|| bad(format!("no `{wanted}` attribute")))?;
    let branch = pb::AttributeProto::decode(branch.encoded.as_slice())
        .ok()
        .and_then(|a| a.g)
        .ok_or_else(|| bad(format!("`{wanted}` is not a graph")))?;
    let outputs = graph.node(node).outputs.clone();
    if branch.output.len() != outputs.len() {
        return Err(bad(format!(
            "`{wanted}` has {} outputs but the node has {}",
            branch.output.len(),
            outputs.len()
        )));
    }
    check_nodes(&branch.node)?;
    let (branch, mut scope) = renamed_branch(graph, branch);
    let external = ExternalResolver::new(None);
    for init in &branch.initializer {
        let name = init.name.clone().unwrap_or_default();
        let tensor = tensor_from_proto(init, &name, &external)?;
        let id = graph.add_initializer(name.clone(), tensor);
        scope.insert(name, id);
    }
    let first_new = graph.nodes.len();
    let order_before = graph.order.len();
    for index in topological_order(&branch, &scope)? {
        add_node(graph, &mut scope, &branch.node[index], index, &external)?;
    }
    let added: Vec<NodeId> = graph.order.split_off(order_before);
    let at = graph
        .order
        .iter()
        .position(|&n| n == node)
        .ok_or_else(|| bad("not in the graph's order".into()))?;
    graph.order.splice(at..at, added);
    let mut taken_over: HashSet<ValueId> = HashSet::new();
    for (slot, out) in branch.output.iter().enumerate() {
        let Some(target) = outputs[slot] else {
            continue;
        };
        let name = out.name.clone().unwrap_or_default();
        let &source = scope
            .get(&name)
            .ok_or_else(|| bad(format!("`{wanted}` output `{name}` is not defined")))?;
        let computed_here = matches!(graph.value(source).def,
            ValueDef::Node { node: n, .. } if n.index() >= first_new);
        let successor = if computed_here && taken_over.insert(source) {
            source
        } else {
            let id = graph.add_node(
                format!("{label}/{wanted}/output{slot}"),
                Op::Identity,
                vec![Some(source)],
                &[""],
                Some(node),
            );
            graph.node(id).outputs[0].unwrap_or(source)
        };
        take_over(graph, target, successor);
    }
    graph.order.retain(|&n| n != node);
    Ok(())
}

/// Makes `successor` the value `old` was: its name, type, doc string and
/// metadata, its readers and its place among the graph outputs. `old` stays
/// in the arena with the dead `If`, nameless.
fn take_over(graph: &mut Graph, old: ValueId, successor: ValueId) {
    graph.replace_uses(old, successor);
    let old_value = graph.value_mut(old);
    let name = std::mem::take(&mut old_value.name);
    let ty = old_value.ty.clone();
    let doc = std::mem::take(&mut old_value.doc_string);
    let metadata = std::mem::take(&mut old_value.metadata);
    let value = graph.value_mut(successor);
    value.name = name;
    if ty.is_some() {
        value.ty = ty;
    }
    value.doc_string = doc;
    value.metadata = metadata;
}

/// The branch with every name it defines that clashes with a graph name
/// renamed, and the outer scope (graph values by name) it reads from.
fn renamed_branch(
    graph: &Graph,
    mut branch: pb::GraphProto,
) -> (pb::GraphProto, HashMap<String, ValueId>) {
    let mut scope: HashMap<String, ValueId> = HashMap::new();
    let mut visible: Vec<ValueId> = graph.inputs.clone();
    visible.extend(
        (0..graph.values.len())
            .map(|i| ValueId(i as u32))
            .filter(|&v| matches!(graph.value(v).def, ValueDef::Initializer(_))),
    );
    for (_, n) in graph.live_nodes() {
        visible.extend(n.outputs.iter().flatten());
    }
    for v in visible {
        scope.insert(graph.value(v).name.clone(), v);
    }
    let taken: HashSet<&str> = graph.values.iter().map(|v| v.name.as_str()).collect();
    let mut defined: Vec<String> = branch
        .initializer
        .iter()
        .filter_map(|t| t.name.clone())
        .collect();
    for node in &branch.node {
        defined.extend(node.output.iter().filter(|o| !o.is_empty()).cloned());
    }
    let mut renames: HashMap<String, String> = HashMap::new();
    let mut used: HashSet<String> = HashSet::new();
    for name in defined {
        if !taken.contains(name.as_str()) {
            continue;
        }
        let fresh = (1..)
            .map(|i| format!("{name}__{i}"))
            .find(|n| !taken.contains(n.as_str()) && !used.contains(n))
            .unwrap_or_default();
        used.insert(fresh.clone());
        renames.insert(name, fresh);
    }
    let rename = |s: &mut String| {
        if let Some(new) = renames.get(s.as_str()) {
            *s = new.clone();
        }
    };
    for init in branch.initializer.iter_mut() {
        if let Some(n) = init.name.as_mut() {
            rename(n);
        }
    }
    let mut node_names: HashSet<String> = graph.live_nodes().map(|(_, n)| n.name.clone()).collect();
    for node in branch.node.iter_mut() {
        node.input.iter_mut().for_each(rename);
        node.output.iter_mut().for_each(rename);
        if let Some(name) = node.name.as_mut().filter(|n| !n.is_empty()) {
            if node_names.contains(name.as_str()) {
                *name = (1..)
                    .map(|i| format!("{name}__{i}"))
                    .find(|n| !node_names.contains(n))
                    .unwrap_or_default();
            }
            node_names.insert(name.clone());
        }
    }
    for out in branch.output.iter_mut() {
        if let Some(n) = out.name.as_mut() {
            rename(n);
        }
    }
    (branch, scope)
}

//! Checks export needs beyond [`wdq_ir::verify`], which assumes ids inside
//! the arena and does not look at how graph inputs are defined.

use crate::OnnxError;
use std::collections::HashSet;
use wdq_ir::{Graph, ValueDef, ValueId};

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
pub(crate) fn check_inputs(graph: &Graph) -> Result<(), OnnxError> {
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

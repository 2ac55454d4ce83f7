//! Structural verification of a graph: the invariants every pass keeps.

use crate::{Graph, NodeId, ValueDef, ValueId};

/// A broken graph invariant, naming the node or value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    #[error("node `{node}` ({op}) reads value #{value}, which does not exist")]
    DanglingInput {
        node: String,
        op: String,
        value: u32,
    },
    #[error(
        "node `{node}` ({op}) reads `{value}` before any node defines it (cycle or bad order)"
    )]
    UseBeforeDef {
        node: String,
        op: String,
        value: String,
    },
    #[error("value `{value}` claims to be output {slot} of node #{node}, which does not list it")]
    BadDefinition {
        value: String,
        node: u32,
        slot: usize,
    },
    #[error("graph output `{value}` is never defined")]
    UndefinedOutput { value: String },
    #[error("node #{0} appears twice in the order")]
    DuplicateNode(u32),
    #[error("value name `{0}` is defined twice")]
    DuplicateName(String),
    #[error("{what} refers to #{id}, outside the graph's arena")]
    OutOfRange { what: &'static str, id: u32 },
}

/// Checks the graph invariants listed in [`crate::graph`].
///
/// # Errors
/// The first [`VerifyError`] found.
pub fn verify(graph: &Graph) -> Result<(), VerifyError> {
    check_ranges(graph)?;
    let mut defined = vec![false; graph.values.len()];
    for (i, v) in graph.values.iter().enumerate() {
        if matches!(v.def, ValueDef::Input | ValueDef::Initializer(_)) {
            defined[i] = true;
        }
        if let ValueDef::Node { node, slot } = v.def {
            let ok = graph
                .nodes
                .get(node.index())
                .and_then(|n| n.outputs.get(slot).copied().flatten())
                == Some(ValueId(i as u32));
            if !ok {
                return Err(VerifyError::BadDefinition {
                    value: v.name.clone(),
                    node: node.0,
                    slot,
                });
            }
        }
    }
    let mut seen = vec![false; graph.nodes.len()];
    let mut names = std::collections::HashSet::new();
    for v in &graph.values {
        if let ValueDef::Input | ValueDef::Initializer(_) = v.def {
            if !v.name.is_empty() && !names.insert(v.name.as_str()) {
                return Err(VerifyError::DuplicateName(v.name.clone()));
            }
        }
    }
    for &id in &graph.order {
        let NodeId(raw) = id;
        if std::mem::replace(&mut seen[id.index()], true) {
            return Err(VerifyError::DuplicateNode(raw));
        }
        let node = graph.node(id);
        for input in node.inputs.iter().flatten() {
            match defined.get(input.index()) {
                None => {
                    return Err(VerifyError::DanglingInput {
                        node: node.name.clone(),
                        op: node.op.op_type().to_string(),
                        value: input.0,
                    })
                }
                Some(false) => {
                    return Err(VerifyError::UseBeforeDef {
                        node: node.name.clone(),
                        op: node.op.op_type().to_string(),
                        value: graph.value(*input).name.clone(),
                    })
                }
                Some(true) => {}
            }
        }
        for out in node.outputs.iter().flatten() {
            defined[out.index()] = true;
            let name = graph.value(*out).name.as_str();
            if !name.is_empty() && !names.insert(name) {
                return Err(VerifyError::DuplicateName(name.to_string()));
            }
        }
    }
    for out in &graph.outputs {
        if !defined.get(out.index()).copied().unwrap_or(false) {
            return Err(VerifyError::UndefinedOutput {
                value: graph.value(*out).name.clone(),
            });
        }
    }
    Ok(())
}

/// Every id the graph holds points into its arena.
fn check_ranges(graph: &Graph) -> Result<(), VerifyError> {
    let values = graph.values.len();
    let nodes = graph.nodes.len();
    let value_ok = |v: &ValueId| v.index() < values;
    if let Some(v) = graph
        .outputs
        .iter()
        .chain(&graph.inputs)
        .find(|v| !value_ok(v))
    {
        return Err(VerifyError::OutOfRange {
            what: "a graph input or output",
            id: v.0,
        });
    }
    if let Some(n) = graph.order.iter().find(|n| n.index() >= nodes) {
        return Err(VerifyError::OutOfRange {
            what: "the node order",
            id: n.0,
        });
    }
    for node in &graph.nodes {
        if let Some(v) = node.outputs.iter().flatten().find(|v| !value_ok(v)) {
            return Err(VerifyError::OutOfRange {
                what: "a node output",
                id: v.0,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Op, ValueDef};

    #[test]
    fn out_of_range_ids_are_errors_not_panics() {
        let mut g = Graph::default();
        let x = g.add_value("x", None, ValueDef::Input);
        g.inputs.push(x);
        g.outputs.push(ValueId(9));
        assert!(matches!(verify(&g), Err(VerifyError::OutOfRange { .. })));
        g.outputs = vec![x];
        g.order.push(NodeId(3));
        assert!(matches!(verify(&g), Err(VerifyError::OutOfRange { .. })));
        g.order.clear();
        let n = g.add_node("relu", Op::Relu, vec![Some(x)], &["y"], None);
        g.node_mut(n).outputs.push(Some(ValueId(40)));
        assert!(matches!(verify(&g), Err(VerifyError::OutOfRange { .. })));
    }

    /// x -> relu -> y, the smallest valid graph.
    fn relu() -> (Graph, ValueId, NodeId) {
        let mut g = Graph::default();
        let x = g.add_value("x", None, ValueDef::Input);
        g.inputs.push(x);
        let n = g.add_node("relu", Op::Relu, vec![Some(x)], &["y"], None);
        let y = g.node(n).output(0).unwrap();
        g.outputs.push(y);
        assert!(verify(&g).is_ok());
        (g, x, n)
    }

    #[test]
    fn every_variant_is_reported() {
        let (mut g, _, n) = relu();
        g.node_mut(n).inputs[0] = Some(ValueId(77));
        assert!(matches!(
            verify(&g),
            Err(VerifyError::DanglingInput { value: 77, .. })
        ));

        let (mut g, x, n) = relu();
        let late = g.add_node("late", Op::Relu, vec![Some(x)], &["z"], None);
        let z = g.node(late).output(0).unwrap();
        g.node_mut(n).inputs[0] = Some(z);
        assert!(
            matches!(verify(&g), Err(VerifyError::UseBeforeDef { ref value, .. }) if value == "z")
        );

        let (mut g, _, n) = relu();
        let y = g.node(n).output(0).unwrap();
        g.node_mut(n).outputs.clear();
        g.outputs = vec![y];
        assert!(matches!(
            verify(&g),
            Err(VerifyError::BadDefinition { slot: 0, .. })
        ));

        let (mut g, _, n) = relu();
        g.order.retain(|&o| o != n);
        assert!(
            matches!(verify(&g), Err(VerifyError::UndefinedOutput { ref value }) if value == "y")
        );

        let (mut g, _, n) = relu();
        g.order.push(n);
        assert!(matches!(verify(&g), Err(VerifyError::DuplicateNode(_))));

        let (mut g, _, _) = relu();
        let again = g.add_value("x", None, ValueDef::Input);
        g.inputs.push(again);
        assert!(matches!(verify(&g), Err(VerifyError::DuplicateName(ref name)) if name == "x"));

        let (mut g, x, _) = relu();
        g.add_node("twin", Op::Relu, vec![Some(x)], &["y"], None);
        assert!(matches!(verify(&g), Err(VerifyError::DuplicateName(ref name)) if name == "y"));
    }
}

//! `If` specialisation: an `If` whose condition is constant once the fixed
//! inputs are known (silero-vad's `If` on its sample rate `sr`) is replaced
//! by the branch it takes (`wdq_onnx::inline_if`), so that the branch's
//! weights become ordinary layers. Then the condition's now unread nodes go
//! and constants are folded again, as at import.
//!
//! The condition is computed by constant folding on a copy of the model in
//! which the fixed inputs are initializers; an `If` it leaves undecided
//! stays, and [`Specialisation::require_complete`] names it for the
//! commands that run the model (the executor runs no `If`).

use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use wdq_exec::fold::{FoldConstants, FoldError};
use wdq_exec::TensorValue;
use wdq_ir::{run_passes, Graph, Model, NodeId, Op, PassError, ValueDef, ValueId};

/// One `If` replaced by its taken branch.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SpecialisedIf {
    /// The `If` node's label.
    pub node: String,
    /// The condition value's name.
    pub condition: String,
    /// `then_branch` or `else_branch`.
    pub taken: String,
    /// The fixed inputs the condition was computed from (empty: constants).
    pub on: Vec<String>,
}

/// An `If` left in the graph: its condition depends on data fed per batch.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UndecidedIf {
    pub node: String,
    pub condition: String,
    /// The graph inputs the condition depends on.
    pub on: Vec<String>,
}

/// What [`specialise_ifs`] did.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Specialisation {
    pub specialised: Vec<SpecialisedIf>,
    pub undecided: Vec<UndecidedIf>,
}

/// Why `If` specialisation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpecialiseError {
    #[error("If node `{node}`: its condition `{condition}` is not constant (it depends on {on}); only an If decided by constants or by fixed inputs (given once in the data, see --batch-axis NAME=fixed) can be run")]
    Undecided {
        node: String,
        condition: String,
        on: String,
    },
    #[error("specialising If node `{node}`: {source}")]
    Inline {
        node: String,
        source: wdq_onnx::OnnxError,
    },
    #[error("folding constants after If specialisation: {0}")]
    Fold(#[from] Box<PassError<FoldError>>),
}

impl Specialisation {
    /// Ok when no `If` is left undecided.
    ///
    /// # Errors
    /// [`SpecialiseError::Undecided`] naming the first one.
    pub fn require_complete(&self) -> Result<(), SpecialiseError> {
        match self.undecided.first() {
            None => Ok(()),
            Some(u) => Err(SpecialiseError::Undecided {
                node: u.node.clone(),
                condition: u.condition.clone(),
                on: if u.on.is_empty() {
                    "no graph input".to_string()
                } else {
                    format!("input {}", u.on.join(", "))
                },
            }),
        }
    }
}

/// Replaces every `If` of `model` whose condition is constant given the
/// `fixed` inputs (name, value) by its taken branch, repeatedly (a branch
/// may hold another `If`).
///
/// # Errors
/// [`SpecialiseError`] when a branch cannot be inlined or folding fails.
pub fn specialise_ifs(
    model: &mut Model,
    fixed: &[(String, TensorValue)],
) -> Result<Specialisation, SpecialiseError> {
    let mut result = Specialisation::default();
    loop {
        let ifs: Vec<NodeId> = model
            .graph
            .live_nodes()
            .filter(|(id, _)| wdq_onnx::is_if(&model.graph, *id))
            .map(|(id, _)| id)
            .collect();
        if ifs.is_empty() {
            break;
        }
        let probe = probe(model, fixed)?;
        let mut progressed = false;
        for id in ifs {
            let Some(condition) = model.graph.node(id).input(0) else {
                continue;
            };
            let Some(value) = constant_bool(&probe.graph, condition) else {
                continue;
            };
            let node = model.graph.node_label(id);
            let on: Vec<String> = input_ancestors(&model.graph, condition)
                .into_iter()
                .filter(|n| fixed.iter().any(|(f, _)| f == n))
                .collect();
            let condition_name = model.graph.value(condition).name.clone();
            wdq_onnx::inline_if(&mut model.graph, id, value).map_err(|source| {
                SpecialiseError::Inline {
                    node: node.clone(),
                    source,
                }
            })?;
            result.specialised.push(SpecialisedIf {
                node,
                condition: condition_name,
                taken: if value { "then_branch" } else { "else_branch" }.to_string(),
                on,
            });
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    for (id, node) in model.graph.live_nodes() {
        if !wdq_onnx::is_if(&model.graph, id) {
            continue;
        }
        let condition = node.input(0);
        result.undecided.push(UndecidedIf {
            node: model.graph.node_label(id),
            condition: condition.map_or_else(String::new, |c| model.graph.value(c).name.clone()),
            on: condition.map_or_else(Vec::new, |c| input_ancestors(&model.graph, c)),
        });
    }
    if !result.specialised.is_empty() {
        remove_unread_nodes(&mut model.graph);
        run_passes(model, &mut [&mut FoldConstants::default()]).map_err(Box::new)?;
    }
    Ok(result)
}

/// A copy of `model` with the fixed inputs as initializers, constants folded.
fn probe(model: &Model, fixed: &[(String, TensorValue)]) -> Result<Model, SpecialiseError> {
    let mut probe = model.clone();
    for (name, value) in fixed {
        let graph = &mut probe.graph;
        let Some(pos) = graph
            .inputs
            .iter()
            .position(|&v| &graph.value(v).name == name)
        else {
            continue;
        };
        let id = graph.inputs.remove(pos);
        graph.value_mut(id).def = ValueDef::Initializer(Arc::new(value.to_tensor()));
    }
    run_passes(&mut probe, &mut [&mut FoldConstants::default()]).map_err(Box::new)?;
    Ok(probe)
}

/// The single boolean `value` holds when it is a constant.
fn constant_bool(graph: &Graph, value: ValueId) -> Option<bool> {
    let (_, tensor) = graph.resolve_const(value)?;
    match TensorValue::from_tensor(&tensor).ok()? {
        TensorValue::Bool(a) if a.len() == 1 => a.iter().next().copied(),
        _ => None,
    }
}

/// The graph inputs `value` is computed from, in graph order.
fn input_ancestors(graph: &Graph, value: ValueId) -> Vec<String> {
    let mut seen: HashSet<ValueId> = HashSet::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        if !seen.insert(v) {
            continue;
        }
        if let ValueDef::Node { node, .. } = graph.value(v).def {
            stack.extend(graph.node(node).inputs.iter().flatten());
        }
    }
    graph
        .inputs
        .iter()
        .filter(|v| seen.contains(v))
        .map(|&v| graph.value(v).name.clone())
        .collect()
}

/// Drops live nodes whose outputs nothing reads (repeatedly), unless an
/// opaque node remains whose sub-graphs may read values by name.
fn remove_unread_nodes(graph: &mut Graph) {
    if graph
        .live_nodes()
        .any(|(_, n)| matches!(n.op, Op::Opaque { .. }))
    {
        return;
    }
    loop {
        let users = graph.users();
        let before = graph.order.len();
        let outputs: HashSet<ValueId> = graph.outputs.iter().copied().collect();
        let unread = |n: &wdq_ir::Node| {
            n.outputs
                .iter()
                .flatten()
                .all(|v| users[v.index()].is_empty() && !outputs.contains(v))
        };
        let dead: HashSet<NodeId> = graph
            .live_nodes()
            .filter(|(_, n)| unread(n))
            .map(|(id, _)| id)
            .collect();
        graph.order.retain(|n| !dead.contains(n));
        if graph.order.len() == before {
            break;
        }
    }
}

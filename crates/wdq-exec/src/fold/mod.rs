//! Constant folding: a rewrite pass that evaluates nodes whose inputs are
//! all constant and turns their outputs into initializers.
//!
//! Invariants: folded outputs keep their value ids and names, so graph
//! outputs and opaque sub-graphs that name them keep working; folded nodes
//! leave `graph.order` (they stay in the arena, dead). QuantizeLinear and
//! DequantizeLinear are never folded, nor anything on a weighted layer's
//! weight or bias chain (the Identity/Constant/DequantizeLinear nodes that
//! feed it), nor a node whose outputs would exceed 2^20 (about 1M) elements.
//! `Constant` nodes that folding leaves without readers are removed (not in
//! graphs with opaque nodes, whose sub-graphs may name values implicitly).
//! Initializers that only folded nodes read stay in the arena. Both folds
//! are [`wdq_ir::Pass`]es; the driver verifies the graph after a rewrite.

use crate::infer::rules;
use crate::infer::{self, Fact, InferError, Operand};
use crate::{ExecError, KernelError, TensorValue};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use wdq_ir::{
    run_passes, Changed, Graph, Model, NodeId, Op, Pass, PassError, TensorType, ValueDef, ValueId,
    VerifyError,
};

/// What a folding pass changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FoldSummary {
    /// Names of the nodes evaluated and replaced by initializers.
    pub folded: Vec<String>,
    /// `Shape` nodes replaced because their input's shape was known.
    pub shapes_resolved: usize,
    /// `Constant` nodes removed because nothing read them any more.
    pub removed_constants: usize,
}

impl FoldSummary {
    /// Whether the pass changed nothing.
    pub fn is_unchanged(&self) -> bool {
        self.folded.is_empty() && self.shapes_resolved == 0 && self.removed_constants == 0
    }
}

/// Why a folding pass failed, naming the pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FoldError {
    #[error("pass `{pass}`: {source}")]
    Exec {
        pass: &'static str,
        source: ExecError,
    },
    #[error("pass `{pass}`: shape inference failed: {source}")]
    Infer {
        pass: &'static str,
        source: InferError,
    },
    #[error("pass `{pass}` left an invalid graph: {source}")]
    Verify {
        pass: &'static str,
        source: VerifyError,
    },
}

const FOLD: &str = "fold_constants";
const FOLD_SHAPES: &str = "fold_with_input_shapes";

/// Constant folding as a [`Pass`]: run it with [`wdq_ir::run_passes`],
/// which verifies the graph when it changed. `summary` says what changed.
#[derive(Clone, Debug, Default)]
pub struct FoldConstants {
    pub summary: FoldSummary,
}

impl Pass for FoldConstants {
    type Error = FoldError;
    fn name(&self) -> &str {
        FOLD
    }
    fn run(&mut self, model: &mut Model) -> Result<Changed, FoldError> {
        fold_pass(model, &mut self.summary)?;
        Ok(changed(&self.summary))
    }
}

/// Shape-specialised folding as a [`Pass`] (see [`fold_with_input_shapes`]).
#[derive(Clone, Debug, Default)]
pub struct FoldWithInputShapes {
    pub input_shapes: Vec<(String, Vec<usize>)>,
    pub summary: FoldSummary,
}

impl Pass for FoldWithInputShapes {
    type Error = FoldError;
    fn name(&self) -> &str {
        FOLD_SHAPES
    }
    fn run(&mut self, model: &mut Model) -> Result<Changed, FoldError> {
        fold_shapes_pass(model, &self.input_shapes, &mut self.summary)?;
        Ok(changed(&self.summary))
    }
}

fn changed(summary: &FoldSummary) -> Changed {
    if summary.is_unchanged() {
        Changed::No
    } else {
        Changed::Yes
    }
}

/// Runs one fold pass through the driver, its verification errors as
/// [`FoldError::Verify`] naming `pass`.
fn drive(
    model: &mut Model,
    pass: &'static str,
    p: &mut dyn Pass<Error = FoldError>,
) -> Result<(), FoldError> {
    run_passes(model, &mut [p]).map_err(|e| match e {
        PassError::Failed { source, .. } => source,
        PassError::Invalid { source, .. } => FoldError::Verify { pass, source },
    })?;
    Ok(())
}

/// Folds every node whose inputs are all constant (see the module docs).
///
/// # Errors
/// [`FoldError::Exec`] when a kernel rejects constant inputs (the graph
/// could never run), [`FoldError::Verify`] if the rewritten graph is invalid.
pub fn fold_constants(model: &mut Model) -> Result<FoldSummary, FoldError> {
    let mut pass = FoldConstants::default();
    drive(model, FOLD, &mut pass)?;
    Ok(pass.summary)
}

/// Infers shapes from `input_shapes` (see [`crate::infer::infer_shapes`];
/// the inferred types are written into the graph), turns each `Shape` of a
/// fully known shape into a constant, then folds, so that exporter shape
/// sub-graphs collapse to constants. The result is specialised to these
/// input shapes (a folded `Reshape` target holds the batch size).
///
/// # Errors
/// [`FoldError::Infer`] when inference fails, else as [`fold_constants`].
pub fn fold_with_input_shapes(
    model: &mut Model,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<FoldSummary, FoldError> {
    let mut pass = FoldWithInputShapes {
        input_shapes: input_shapes.to_vec(),
        summary: FoldSummary::default(),
    };
    drive(model, FOLD_SHAPES, &mut pass)?;
    Ok(pass.summary)
}

fn fold_shapes_pass(
    model: &mut Model,
    input_shapes: &[(String, Vec<usize>)],
    summary: &mut FoldSummary,
) -> Result<(), FoldError> {
    let facts = infer::infer_facts(model, input_shapes).map_err(|source| FoldError::Infer {
        pass: FOLD_SHAPES,
        source,
    })?;
    infer::write_types(model, &facts);
    let protected = protected_values(&model.graph);
    let resolved: Vec<(NodeId, ValueId)> = model
        .graph
        .live_nodes()
        .filter(|(_, node)| matches!(node.op, Op::Shape(_)) && !touches(node, &protected))
        .filter_map(|(id, node)| node.output(0).map(|out| (id, out)))
        .filter(|(_, out)| facts[out.index()].value.is_some())
        .collect();
    let mut removed = HashSet::new();
    for (id, out) in resolved {
        let Some(v) = &facts[out.index()].value else {
            continue;
        };
        removed.insert(id);
        summary.shapes_resolved += 1;
        let tensor = v.to_tensor();
        let value = model.graph.value_mut(out);
        value.ty = Some(TensorType::known(tensor.dtype(), tensor.shape()));
        value.def = ValueDef::Initializer(Arc::new(tensor));
    }
    model.graph.order.retain(|n| !removed.contains(n));
    fold_pass(model, summary)?;
    Ok(())
}

fn fold_pass(model: &mut Model, summary: &mut FoldSummary) -> Result<(), FoldError> {
    let opset = model.default_opset().unwrap_or(21);
    let graph = &mut model.graph;
    let protected = protected_values(graph);
    let read_before: HashSet<ValueId> = graph
        .users()
        .iter()
        .enumerate()
        .filter(|(_, u)| !u.is_empty())
        .map(|(i, _)| ValueId(i as u32))
        .collect();
    let mut cache: HashMap<ValueId, Arc<TensorValue>> = HashMap::new();
    let mut removed: HashSet<NodeId> = HashSet::new();
    for id in graph.order.clone() {
        let node = graph.node(id);
        let skip = matches!(
            node.op,
            Op::Opaque { .. } | Op::Constant(_) | Op::QuantizeLinear(_) | Op::DequantizeLinear(_)
        ) || node.inputs.iter().all(Option::is_none)
            || touches(node, &protected);
        if skip {
            continue;
        }
        let all_constant = node
            .inputs
            .iter()
            .flatten()
            .all(|&v| cache.contains_key(&v) || is_constant(graph, v));
        if !all_constant {
            continue;
        }
        let Some(values) = node
            .inputs
            .iter()
            .map(|i| match i {
                Some(v) => constant_of(graph, *v, &mut cache).map(Some),
                None => Some(None),
            })
            .collect::<Option<Vec<Option<Arc<TensorValue>>>>>()
        else {
            continue;
        };
        let inputs: Vec<Option<&TensorValue>> = values.iter().map(|v| v.as_deref()).collect();
        let n_out = node.outputs.len();
        if !fits(&node.op, opset, &inputs, n_out) {
            continue;
        }
        let outputs = match rules::evaluate(&node.op, opset, &inputs, n_out) {
            Ok(o) => o,
            Err(KernelError::Unsupported(_)) => continue,
            Err(source) => {
                let source = ExecError::Kernel {
                    node: node.name.clone(),
                    op: node.op.op_type().to_string(),
                    source,
                };
                return Err(FoldError::Exec { pass: FOLD, source });
            }
        };
        let name = node.name.clone();
        let slots = node.outputs.clone();
        for (slot, out) in slots.iter().enumerate() {
            let (Some(out), Some(Fact { value: Some(v), .. })) = (out, outputs.get(slot)) else {
                continue;
            };
            let tensor = v.to_tensor();
            let value = graph.value_mut(*out);
            value.ty = Some(TensorType::known(tensor.dtype(), tensor.shape()));
            value.def = ValueDef::Initializer(Arc::new(tensor));
            cache.insert(*out, v.clone());
        }
        removed.insert(id);
        summary.folded.push(name);
    }
    graph.order.retain(|n| !removed.contains(n));
    summary.removed_constants += remove_unread_constants(graph, &protected, &read_before);
    Ok(())
}

/// The largest output, in elements, that folding computes: the size of a
/// large fully-connected weight (VGG's fc6 has 103 million), while a
/// `ConstantOfShape` bomb asking for more is left to run time, where the
/// executor's own limit refuses it.
const FOLD_LIMIT: usize = 1 << 28;

/// Whether the node's outputs are known in advance to stay within [`FOLD_LIMIT`].
fn fits(op: &Op, opset: i64, inputs: &[Option<&TensorValue>], n_out: usize) -> bool {
    let operands: Vec<Operand<'_>> = inputs
        .iter()
        .map(|v| Operand {
            present: v.is_some(),
            dtype: v.map(TensorValue::dtype),
            shape: v.map(TensorValue::shape),
            value: *v,
        })
        .collect();
    match rules::node_facts(op, opset, &operands, n_out) {
        Ok(facts) => {
            !facts.is_empty()
                && facts.iter().all(|f| {
                    f.shape.as_ref().is_some_and(|s| {
                        s.iter()
                            .try_fold(1usize, |a, &d| a.checked_mul(d))
                            .is_some_and(|n| n <= FOLD_LIMIT)
                    })
                })
        }
        Err(_) => true,
    }
}

/// The constant behind `v`: an initializer that is not a graph input, a
/// `Constant` node's output, or an output folded earlier.
/// Whether `v` is an initializer (not a graph input) or a `Constant` output,
/// without converting it.
fn is_constant(graph: &Graph, v: ValueId) -> bool {
    if graph.inputs.contains(&v) {
        return false;
    }
    match &graph.value(v).def {
        ValueDef::Initializer(_) => true,
        ValueDef::Node { node, .. } => matches!(graph.node(*node).op, Op::Constant(_)),
        ValueDef::Input => false,
    }
}

fn constant_of(
    graph: &Graph,
    v: ValueId,
    cache: &mut HashMap<ValueId, Arc<TensorValue>>,
) -> Option<Arc<TensorValue>> {
    if let Some(c) = cache.get(&v) {
        return Some(c.clone());
    }
    if graph.inputs.contains(&v) {
        return None;
    }
    let value = match &graph.value(v).def {
        ValueDef::Initializer(t) => TensorValue::from_tensor(t).ok()?,
        ValueDef::Node { node, .. } => match &graph.node(*node).op {
            Op::Constant(a) => TensorValue::from_tensor(&wdq_ir::constant_tensor(a)?).ok()?,
            _ => return None,
        },
        ValueDef::Input => return None,
    };
    let value = Arc::new(value);
    cache.insert(v, value.clone());
    Some(value)
}

/// Values on a weighted layer's weight or bias chain, through Identity,
/// Constant and DequantizeLinear nodes.
fn protected_values(graph: &Graph) -> HashSet<ValueId> {
    let mut out = HashSet::new();
    for layer in wdq_ir::weighted_layers(graph) {
        let node = graph.node(layer.node);
        let bias_slot = wdq_ir::LayerSlots::of(&node.op).and_then(|s| s.bias);
        let weights = [(layer.weight_slot, layer.weight)]
            .into_iter()
            .chain(layer.companions.iter().map(|c| (c.slot, c.weight)));
        let mut chains = Vec::new();
        for (slot, stored) in weights {
            out.insert(stored);
            chains.push((Some(slot), Some(stored)));
        }
        chains.push((bias_slot.filter(|_| layer.bias.is_some()), None));
        for (slot, stored) in chains {
            let mut current = slot.and_then(|s| node.input(s));
            while let Some(v) = current {
                if !out.insert(v) && Some(v) != stored {
                    break;
                }
                current = match graph.value(v).def {
                    ValueDef::Node { node, .. } => match graph.node(node).op {
                        Op::Identity | Op::DequantizeLinear(_) => graph.node(node).input(0),
                        _ => None,
                    },
                    _ => None,
                };
            }
        }
    }
    out
}

fn touches(node: &wdq_ir::Node, protected: &HashSet<ValueId>) -> bool {
    node.inputs
        .iter()
        .chain(&node.outputs)
        .flatten()
        .any(|v| protected.contains(v))
}

/// Removes live `Constant` nodes that folding left unread: read before the
/// pass, by no node and no graph output after it. Nothing is removed from a
/// graph with opaque nodes, whose sub-graphs may name values implicitly.
fn remove_unread_constants(
    graph: &mut Graph,
    protected: &HashSet<ValueId>,
    read_before: &HashSet<ValueId>,
) -> usize {
    if graph
        .live_nodes()
        .any(|(_, n)| matches!(n.op, Op::Opaque { .. }))
    {
        return 0;
    }
    let users = graph.users();
    let before = graph.order.len();
    let dead: HashSet<NodeId> = graph
        .live_nodes()
        .filter(|(_, n)| matches!(n.op, Op::Constant(_)))
        .filter(|(_, n)| {
            n.outputs.iter().flatten().all(|v| {
                read_before.contains(v)
                    && users[v.index()].is_empty()
                    && !graph.outputs.contains(v)
                    && !protected.contains(v)
            })
        })
        .map(|(id, _)| id)
        .collect();
    graph.order.retain(|n| !dead.contains(n));
    before - graph.order.len()
}

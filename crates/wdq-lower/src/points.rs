//! Activation points: the values that get a `QuantizeLinear` ->
//! `DequantizeLinear` pair.
//!
//! For each lowered layer: its data input, and its output, taken after a
//! `Relu` or `Clip` that is the output's only reader (the pair then sits
//! where runtimes fuse Conv+Relu). A value is left out when it is a graph
//! output (graph outputs are never quantized, so they keep their names and
//! float type), a constant, already the output of a `DequantizeLinear`, or
//! already read by a `QuantizeLinear` (an already quantized model).
//!
//! A point produced by an op that only moves or selects values (MaxPool,
//! Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Identity) from another
//! point shares that point's scale and zero point: its range is not read.

use crate::options::LowerOptions;
use crate::site::{analyze, LayerSite};
use wdq_ir::{weighted_layers, Graph, Model, NodeId, Op, ValueDef, ValueId};

/// The values that [`crate::lower`] may give a `QuantizeLinear` ->
/// `DequantizeLinear` pair, in graph order, for the caller to calibrate:
/// the points of every weighted layer that can be lowered, whatever the plan
/// (the lowering uses those of the planned layers). Empty when
/// `options.activations` is [`crate::ActivationType::None`].
pub fn activation_points(model: &Model, options: &LowerOptions) -> Vec<ValueId> {
    if options.activations.spec().is_none() {
        return Vec::new();
    }
    let graph = &model.graph;
    let sites: Vec<LayerSite> = weighted_layers(graph)
        .iter()
        .filter_map(|layer| analyze(graph, layer, options.granularity).ok())
        .collect();
    points_of(graph, &sites)
}

/// The activation points of `sites`, deduplicated, in graph order.
pub(crate) fn points_of(graph: &Graph, sites: &[LayerSite]) -> Vec<ValueId> {
    let users = graph.users();
    let mut points: Vec<ValueId> = Vec::new();
    for site in sites {
        let output = graph
            .node(site.node)
            .output(0)
            .map(|out| past_activation(graph, &users, out));
        for v in [site.data, output].into_iter().flatten() {
            if quantizable(graph, &users, v) && !points.contains(&v) {
                points.push(v);
            }
        }
    }
    let position = graph_positions(graph);
    points.sort_by_key(|v| (producer_position(graph, &position, *v), v.0));
    points
}

/// `value`, or the output of the `Relu`/`Clip` that is its only reader.
fn past_activation(graph: &Graph, users: &[Vec<(NodeId, usize)>], value: ValueId) -> ValueId {
    if graph.outputs.contains(&value) {
        return value;
    }
    match users[value.index()].as_slice() {
        [(reader, 0)] => match graph.node(*reader).op {
            Op::Relu | Op::Clip(_) => graph.node(*reader).output(0).unwrap_or(value),
            _ => value,
        },
        _ => value,
    }
}

/// Whether `value` may get a pair (see the module docs).
fn quantizable(graph: &Graph, users: &[Vec<(NodeId, usize)>], value: ValueId) -> bool {
    if graph.outputs.contains(&value) || graph.resolve_const(value).is_some() {
        return false;
    }
    let v = graph.value(value);
    if let Some(ty) = &v.ty {
        if !ty.dtype.is_float() {
            return false;
        }
    }
    match v.def {
        ValueDef::Initializer(_) if !graph.inputs.contains(&value) => return false,
        ValueDef::Node { node, .. } => {
            if let Op::DequantizeLinear(_) | Op::QuantizeLinear(_) = graph.node(node).op {
                return false;
            }
        }
        _ => {}
    }
    !users[value.index()]
        .iter()
        .any(|(n, _)| matches!(graph.node(*n).op, Op::QuantizeLinear(_)))
}

/// Position of each live node in the order.
fn graph_positions(graph: &Graph) -> Vec<usize> {
    let mut position = vec![usize::MAX; graph.nodes.len()];
    for (i, id) in graph.order.iter().enumerate() {
        position[id.index()] = i;
    }
    position
}

/// Sort key of a value: before every node for graph inputs, else its
/// producer's position.
fn producer_position(graph: &Graph, position: &[usize], value: ValueId) -> (usize, usize) {
    match graph.value(value).def {
        ValueDef::Node { node, slot } => (position[node.index()].saturating_add(1), slot),
        _ => (0, 0),
    }
}

//! Weighted layers: the nodes that own a trainable weight tensor (Conv,
//! ConvTranspose, Gemm, MatMul with a constant operand). These are the units
//! the method gives a bit width. Weights are found through `Identity` and
//! `Constant` nodes, and through a `DequantizeLinear` for models that are
//! already quantized.

use crate::{Graph, NodeId, Op, Tensor, ValueId};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One weighted layer.
#[derive(Clone, Debug)]
pub struct WeightedLayer {
    pub node: NodeId,
    /// Input slot of `node` that carries the weight.
    pub weight_slot: usize,
    /// The value holding the stored weight (initializer or Constant output).
    pub weight: ValueId,
    pub weight_tensor: Arc<Tensor>,
    /// The `DequantizeLinear` between the stored weight and the layer, if the
    /// model is already quantized.
    pub dequantize: Option<NodeId>,
    /// The constant bias (Conv/ConvTranspose/Gemm input 2), if any.
    pub bias: Option<ValueId>,
}

impl WeightedLayer {
    /// Number of weight parameters.
    pub fn parameter_count(&self) -> usize {
        self.weight_tensor.len()
    }

    /// The output-channel axis of this layer's weight (see
    /// [`output_channel_axis`]).
    pub fn output_channel_axis(&self, graph: &Graph) -> Option<usize> {
        output_channel_axis(&graph.node(self.node).op, self.weight_tensor.shape().len())
    }
}

/// The output-channel axis of a weight of rank `rank` read by `op` (the
/// axis of per-channel scales), `None` for per-tensor only: Conv 0;
/// ConvTranspose 1 (its weight is `[C_in, C_out / group, ...]`, so a grouped
/// one has none); Gemm 0 with `transB = 1` and 1 otherwise; a MatMul's
/// constant B its last axis (none for a vector). The one place this rule
/// lives: lowering and the criteria both ask here.
pub fn output_channel_axis(op: &Op, rank: usize) -> Option<usize> {
    match op {
        Op::Conv(_) if rank >= 3 => Some(0),
        Op::ConvTranspose(a) if rank >= 3 && a.group.unwrap_or(1) == 1 => Some(1),
        Op::Gemm(a) if rank == 2 => Some(if a.trans_b.unwrap_or(0) != 0 { 0 } else { 1 }),
        Op::MatMul if rank >= 2 => Some(rank - 1),
        _ => None,
    }
}

/// The weighted layers of `graph`, in graph order.
pub fn weighted_layers(graph: &Graph) -> Vec<WeightedLayer> {
    let mut layers = Vec::new();
    for (id, node) in graph.live_nodes() {
        let slots: &[usize] = match node.op {
            Op::Conv(_) | Op::ConvTranspose(_) => &[1],
            Op::Gemm(_) => &[1, 0],
            Op::MatMul => &[1, 0],
            _ => continue,
        };
        let found = slots.iter().find_map(|&slot| {
            let input = node.input(slot)?;
            weight_behind(graph, input).map(|w| (slot, w))
        });
        let Some((weight_slot, (weight, weight_tensor, dequantize))) = found else {
            continue;
        };
        if !weight_tensor.dtype().is_float() && dequantize.is_none() {
            continue;
        }
        let bias = match node.op {
            Op::MatMul => None,
            _ => node
                .input(2)
                .and_then(|b| weight_behind(graph, b))
                .map(|(v, _, _)| v),
        };
        layers.push(WeightedLayer {
            node: id,
            weight_slot,
            weight,
            weight_tensor,
            dequantize,
            bias,
        });
    }
    layers
}

fn weight_behind(graph: &Graph, value: ValueId) -> Option<(ValueId, Arc<Tensor>, Option<NodeId>)> {
    if let Some((v, t)) = graph.resolve_const(value) {
        return Some((v, t, None));
    }
    let crate::ValueDef::Node { node, .. } = graph.value(value).def else {
        return None;
    };
    match graph.node(node).op {
        Op::DequantizeLinear(_) => {
            let (v, t) = graph.resolve_const(graph.node(node).input(0)?)?;
            Some((v, t, Some(node)))
        }
        _ => None,
    }
}

/// A quantization unit: one stored weight and every weighted layer that
/// reads it. A tied weight (PyTorch's legacy exporter feeds the second user
/// through an `Identity`) is one unit with several users, all given the
/// same bit width. The unit is keyed by its first user in graph order,
/// `layer.node`.
#[derive(Clone, Debug)]
pub struct LayerUnit {
    /// The first user's layer (graph order).
    pub layer: WeightedLayer,
    /// Every layer node reading the weight, `layer.node` first, graph order.
    pub users: Vec<NodeId>,
}

impl LayerUnit {
    /// The node the unit is keyed by.
    pub fn node(&self) -> NodeId {
        self.layer.node
    }
}

/// The quantization units of `graph`, in graph order of their first user.
pub fn layer_units(graph: &Graph) -> Vec<LayerUnit> {
    let mut units: Vec<LayerUnit> = Vec::new();
    for layer in weighted_layers(graph) {
        match units.iter_mut().find(|u| u.layer.weight == layer.weight) {
            Some(unit) => unit.users.push(layer.node),
            None => units.push(LayerUnit {
                users: vec![layer.node],
                layer,
            }),
        }
    }
    units
}

/// A side table keyed by layer node: analysis results live here, never in
/// fields on `Node`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerMap<T>(pub BTreeMap<NodeId, T>);

impl<T> Default for LayerMap<T> {
    fn default() -> Self {
        LayerMap(BTreeMap::new())
    }
}

impl<T> LayerMap<T> {
    pub fn insert(&mut self, node: NodeId, value: T) -> Option<T> {
        self.0.insert(node, value)
    }
    pub fn get(&self, node: NodeId) -> Option<&T> {
        self.0.get(&node)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &T)> {
        self.0.iter()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn contains(&self, node: NodeId) -> bool {
        self.0.contains_key(&node)
    }
    pub fn keys(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.keys().copied()
    }
}

impl<T> FromIterator<(NodeId, T)> for LayerMap<T> {
    fn from_iter<I: IntoIterator<Item = (NodeId, T)>>(iter: I) -> Self {
        LayerMap(iter.into_iter().collect())
    }
}

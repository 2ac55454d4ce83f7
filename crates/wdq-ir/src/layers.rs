//! Weighted layers: the nodes that own a trainable weight tensor (Conv,
//! ConvTranspose, Gemm, MatMul with a constant operand, and LSTM/GRU/RNN
//! with a constant `W`). These are the units the method gives a bit width.
//! Weights are found through `Identity` and `Constant` nodes, and through a
//! `DequantizeLinear` for models that are already quantized.
//!
//! A recurrent node is one layer with two weights: `W` (input 1) is the
//! layer's weight and `R` (input 2) a companion that gets the same bits,
//! is trained with it and counts in its drift. Its bias `B` (input 3,
//! `[num_directions, 2 * gates * hidden]`) is the layer's bias and stays
//! float: it is added to both `X W^T` and `H R^T`, whose input scales
//! differ, so no single int32 scale `s_x * s_w` describes it.

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
    /// The constant bias (input [`LayerSlots::bias`]), if any.
    pub bias: Option<ValueId>,
    /// Further weights of the same node that get the layer's bits (an
    /// LSTM/GRU/RNN's `R`), in slot order.
    pub companions: Vec<CompanionWeight>,
}

/// A further stored weight of a layer node (see [`LayerSlots::companions`]).
#[derive(Clone, Debug)]
pub struct CompanionWeight {
    /// Input slot of the layer node that carries it.
    pub slot: usize,
    /// The value holding the stored weight.
    pub weight: ValueId,
    pub weight_tensor: Arc<Tensor>,
    /// The `DequantizeLinear` between the stored weight and the layer, if any.
    pub dequantize: Option<NodeId>,
}

/// Where a weighted op keeps its weights: the one place this rule lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSlots {
    /// Slots that may carry the weight, tried in order (Gemm and MatMul
    /// take a constant A when B is not constant).
    pub weight: &'static [usize],
    /// Slots of further weights quantized at the layer's bits.
    pub companions: &'static [usize],
    /// The bias slot, if the op has one.
    pub bias: Option<usize>,
}

impl LayerSlots {
    /// The slots of a weighted op, `None` for other ops.
    pub fn of(op: &Op) -> Option<LayerSlots> {
        let (weight, companions, bias): (&'static [usize], &'static [usize], _) = match op {
            Op::Conv(_) | Op::ConvTranspose(_) => (&[1], &[], Some(2)),
            Op::Gemm(_) => (&[1, 0], &[], Some(2)),
            Op::MatMul => (&[1, 0], &[], None),
            Op::LSTM(_) | Op::GRU(_) | Op::RNN(_) => (&[1], &[2], Some(3)),
            _ => return None,
        };
        Some(LayerSlots {
            weight,
            companions,
            bias,
        })
    }
}

impl WeightedLayer {
    /// Number of weight parameters (the weight and its companions).
    pub fn parameter_count(&self) -> usize {
        self.weight_tensor.len()
            + self
                .companions
                .iter()
                .map(|c| c.weight_tensor.len())
                .sum::<usize>()
    }

    /// Each companion seen as a weight of the same node (no bias, no
    /// companions), for checks that apply to every stored weight alike.
    pub fn companion_views(&self) -> impl Iterator<Item = WeightedLayer> + '_ {
        self.companions.iter().map(|c| WeightedLayer {
            node: self.node,
            weight_slot: c.slot,
            weight: c.weight,
            weight_tensor: c.weight_tensor.clone(),
            dequantize: c.dequantize,
            bias: None,
            companions: Vec::new(),
        })
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
/// constant B its last axis (none for a vector); LSTM/GRU/RNN 1 for both
/// `W` `[num_directions, gates * hidden, input]` and `R`
/// `[num_directions, gates * hidden, hidden]` (one scale per gate row). The
/// one place this rule lives: lowering and the criteria both ask here.
pub fn output_channel_axis(op: &Op, rank: usize) -> Option<usize> {
    match op {
        Op::Conv(_) if rank >= 3 => Some(0),
        Op::ConvTranspose(a) if rank >= 3 && a.group.unwrap_or(1) == 1 => Some(1),
        Op::Gemm(a) if rank == 2 => Some(if a.trans_b.unwrap_or(0) != 0 { 0 } else { 1 }),
        Op::MatMul if rank >= 2 => Some(rank - 1),
        Op::LSTM(_) | Op::GRU(_) | Op::RNN(_) if rank == 3 => Some(1),
        _ => None,
    }
}

/// The weighted layers of `graph`, in graph order.
pub fn weighted_layers(graph: &Graph) -> Vec<WeightedLayer> {
    let mut layers = Vec::new();
    for (id, node) in graph.live_nodes() {
        let Some(slots) = LayerSlots::of(&node.op) else {
            continue;
        };
        let stored = |slot: usize| {
            let found = weight_behind(graph, node.input(slot)?)?;
            (found.1.dtype().is_float() || found.2.is_some()).then_some(found)
        };
        let Some((weight_slot, (weight, weight_tensor, dequantize))) = slots
            .weight
            .iter()
            .find_map(|&slot| stored(slot).map(|w| (slot, w)))
        else {
            continue;
        };
        let companions = slots
            .companions
            .iter()
            .filter_map(|&slot| {
                let (weight, weight_tensor, dequantize) = stored(slot)?;
                Some(CompanionWeight {
                    slot,
                    weight,
                    weight_tensor,
                    dequantize,
                })
            })
            .collect();
        let bias = slots
            .bias
            .and_then(|slot| node.input(slot))
            .and_then(|b| weight_behind(graph, b))
            .map(|(v, _, _)| v);
        layers.push(WeightedLayer {
            node: id,
            weight_slot,
            weight,
            weight_tensor,
            dequantize,
            bias,
            companions,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, TensorType, ValueDef};

    /// An LSTM with constant W `[1, 8, 3]`, R `[1, 8, 2]` and B `[1, 16]`.
    fn lstm_graph() -> (Graph, NodeId, [ValueId; 3]) {
        let mut graph = Graph::default();
        let x = graph.add_value(
            "x",
            Some(TensorType::known(DType::F32, &[4, 1, 3])),
            ValueDef::Input,
        );
        let w = graph.add_initializer("W", Tensor::from_f32(vec![1, 8, 3], vec![0.1; 24]));
        let r = graph.add_initializer("R", Tensor::from_f32(vec![1, 8, 2], vec![0.2; 16]));
        let b = graph.add_initializer("B", Tensor::from_f32(vec![1, 16], vec![0.0; 16]));
        graph.inputs = vec![x];
        let lstm = graph.add_node(
            "lstm",
            Op::LSTM(Default::default()),
            vec![Some(x), Some(w), Some(r), Some(b)],
            &["y"],
            None,
        );
        (graph, lstm, [w, r, b])
    }

    #[test]
    fn a_recurrent_node_is_one_layer_with_r_as_companion_and_b_as_bias() {
        let (graph, lstm, [w, r, b]) = lstm_graph();
        let layers = weighted_layers(&graph);
        assert_eq!(layers.len(), 1);
        let layer = &layers[0];
        assert_eq!((layer.node, layer.weight_slot, layer.weight), (lstm, 1, w));
        assert_eq!(layer.bias, Some(b));
        assert_eq!(layer.companions.len(), 1);
        assert_eq!(
            (layer.companions[0].slot, layer.companions[0].weight),
            (2, r)
        );
        assert_eq!(layer.parameter_count(), 24 + 16);
        assert_eq!(layer.output_channel_axis(&graph), Some(1));
        let views: Vec<WeightedLayer> = layer.companion_views().collect();
        assert_eq!(
            (views.len(), views[0].weight_slot, views[0].weight),
            (1, 2, r)
        );
        assert!(views[0].bias.is_none() && views[0].companions.is_empty());
        assert_eq!(
            output_channel_axis(&Op::GRU(Default::default()), 3),
            Some(1)
        );
        assert_eq!(output_channel_axis(&Op::RNN(Default::default()), 2), None);
    }

    #[test]
    fn a_recurrent_node_with_a_fed_w_is_no_layer() {
        let (mut graph, lstm, _) = lstm_graph();
        let fed = graph.add_value("W_fed", None, ValueDef::Input);
        graph.inputs.push(fed);
        graph.node_mut(lstm).inputs[1] = Some(fed);
        assert!(weighted_layers(&graph).is_empty());
    }
}

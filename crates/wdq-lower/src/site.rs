//! Which weighted layers can be lowered, and how: the data input, the weight
//! as floats (and its companions: an LSTM/GRU/RNN's `R`), the output-channel
//! axis of per-channel scales, and whether the bias can become int32 (never
//! for a recurrent bias: see [`wdq_ir::layers`]). A layer that cannot be
//! lowered gets a reason.
//!
//! Output-channel axes: [`wdq_ir::layers::output_channel_axis`].

use crate::options::WeightGranularity;
use crate::resolve::{resolve_float, FloatConst};
use wdq_ir::layers::output_channel_axis;
use wdq_ir::{Graph, LayerSlots, NodeId, Op, ValueId, WeightedLayer};

/// A layer that can be lowered.
#[derive(Clone, Debug)]
pub(crate) struct LayerSite {
    pub node: NodeId,
    /// The node's name, or its first output's when it has none.
    pub label: String,
    /// The activation input (`None` when absent).
    pub data: Option<ValueId>,
    pub weight_slot: usize,
    pub weight: FloatConst,
    /// Further weights quantized at the layer's bits with the same axis
    /// (an LSTM/GRU/RNN's `R`): (slot, value).
    pub companions: Vec<(usize, FloatConst)>,
    /// Per-channel axis, or `None` for per-tensor scales.
    pub axis: Option<usize>,
    pub bias: Option<BiasSite>,
}

/// A constant bias operand.
#[derive(Clone, Debug)]
pub(crate) struct BiasSite {
    pub slot: usize,
    pub value: FloatConst,
    /// Whether an int32 bias with scale `s_x * s_w` means the same thing:
    /// a vector, and for Gemm `alpha = beta = 1`.
    pub int32_ok: bool,
}

/// Analyses one weighted layer.
///
/// # Errors
/// The reason, as a sentence, when the layer cannot be lowered.
pub(crate) fn analyze(
    graph: &Graph,
    layer: &WeightedLayer,
    granularity: WeightGranularity,
) -> Result<LayerSite, String> {
    let node = graph.node(layer.node);
    if layer.weight_slot != 1 {
        return Err(format!(
            "the constant operand of {} is A (input 0), not the weight",
            node.op.op_type()
        ));
    }
    let label = graph.node_label(layer.node);
    let operand = |slot: usize, what: &str| {
        let input = node
            .input(slot)
            .ok_or_else(|| format!("the {what} input is missing"))?;
        let mut value = resolve_float(graph, input).map_err(|why| format!("{what}: {why}"))?;
        if value.base.is_empty() {
            value.base = format!("{label}_{what}");
        }
        Ok::<_, String>(value)
    };
    let weight = operand(1, "weight")?;
    let rank = weight.shape.len();
    let unit = |x: Option<f32>| x.is_none_or(|v| v == 1.0);
    let int32_ok_op = match &node.op {
        Op::Conv(_) | Op::ConvTranspose(_) if rank >= 3 => true,
        Op::Gemm(a) if rank == 2 => unit(a.alpha) && unit(a.beta),
        Op::MatMul if rank >= 1 => false,
        Op::LSTM(_) | Op::GRU(_) | Op::RNN(_) if rank == 3 => false,
        op => {
            return Err(format!(
                "{} with a weight of rank {rank} is not supported",
                op.op_type()
            ))
        }
    };
    let companions = layer
        .companions
        .iter()
        .map(|c| Ok((c.slot, operand(c.slot, "recurrence_weight")?)))
        .collect::<Result<Vec<_>, String>>()?;
    let channel_axis = output_channel_axis(&node.op, rank);
    let axis = match granularity {
        WeightGranularity::PerChannel => channel_axis,
        WeightGranularity::PerTensor => None,
    };
    let bias_slot = LayerSlots::of(&node.op).and_then(|s| s.bias);
    let bias = match bias_slot.and_then(|slot| Some((slot, node.input(slot)?))) {
        None => None,
        Some((slot, b)) => match resolve_float(graph, b) {
            Ok(mut value) => {
                if value.base.is_empty() {
                    value.base = format!("{}_bias", graph.node_label(layer.node));
                }
                let channels = axis.map(|a| weight.shape[a]);
                let int32_ok = int32_ok_op
                    && value.shape.len() == 1
                    && channels.is_none_or(|c| c == value.values.len());
                Some(BiasSite {
                    slot,
                    value,
                    int32_ok,
                })
            }
            Err(_) => None,
        },
    };
    Ok(LayerSite {
        node: layer.node,
        label,
        data: node.input(0),
        weight_slot: 1,
        weight,
        companions,
        axis,
        bias,
    })
}

//! Graph preparation before quantization, as deployment quantizers do it:
//! a BatchNormalization (inference form) or a Mul/Add/Sub/Div by a
//! per-channel constant that follows a Conv, ConvTranspose or Gemm is
//! folded into that layer's weight and bias ([`FoldIntoLayers`]).
//!
//! Run it on the float model before anything is measured: the drift, the
//! calibration and the search then see the weights that ship, and the
//! activation pair of a folded layer sits after its `Relu`/`Clip` (see
//! [`crate::activation_points`]), where runtimes fuse Conv+Relu, instead of
//! between the layer and a BatchNormalization.
//!
//! Names stay traceable: the layer keeps its node name and its weight's
//! name; the folded node's output value becomes the layer's output (so
//! graph outputs and downstream readers keep their names); the layer gets
//! `wdq.folded` = the folded nodes' labels, in folding order. A layer is
//! left alone when its output has another reader or is a graph output, or
//! its weight or bias is not a float initializer that only it reads.

use crate::affine::{
    affine_of, channel_of, f32_tensor, layer_shape, map_bias, per_channel_bias, scale_weight,
};
use std::collections::HashSet;
use std::convert::Infallible;
use wdq_ir::{Changed, DType, Graph, NodeId, Op, Pass, Tensor, ValueDef, ValueId};

/// The node annotation naming what was folded into a layer.
pub const FOLDED_KEY: &str = "wdq.folded";

/// One node folded into a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folded {
    /// The layer that absorbed the node.
    pub layer: NodeId,
    /// The folded node's label.
    pub node: String,
    /// Its op type.
    pub op: String,
}

/// Folds BatchNormalization and per-channel Mul/Add/Sub/Div by constants
/// into the preceding Conv/ConvTranspose/Gemm, until none is left; records
/// each fold in `folded`.
#[derive(Debug, Default)]
pub struct FoldIntoLayers {
    pub folded: Vec<Folded>,
}

impl Pass for FoldIntoLayers {
    type Error = Infallible;
    fn name(&self) -> &str {
        "fold-into-layers"
    }
    fn run(&mut self, model: &mut wdq_ir::Model) -> Result<Changed, Infallible> {
        let before = self.folded.len();
        while let Some(fold) = next_fold(&model.graph) {
            self.folded.push(apply(&mut model.graph, &fold));
        }
        Ok(if self.folded.len() > before {
            Changed::Yes
        } else {
            Changed::No
        })
    }
}

/// A fold to do: `node` applies `affine` to the output of `layer`.
struct Fold {
    layer: NodeId,
    node: NodeId,
    weight: ValueId,
    weight_shape: Vec<usize>,
    weight_values: Vec<f32>,
    channel: Vec<usize>,
    bias: Option<ValueId>,
    bias_values: Vec<f64>,
    affine: crate::affine::Affine,
}

/// The float initializer `value`, if only `reader` reads it.
fn own_initializer(
    graph: &Graph,
    users: &[Vec<(NodeId, usize)>],
    value: ValueId,
    reader: NodeId,
) -> Option<(Vec<usize>, Vec<f32>)> {
    let ValueDef::Initializer(t) = &graph.value(value).def else {
        return None;
    };
    let only_reader = users[value.index()].iter().all(|(n, _)| *n == reader);
    let plain = !graph.inputs.contains(&value) && !graph.outputs.contains(&value);
    if !(only_reader && plain && t.dtype() == DType::F32) {
        return None;
    }
    Some((t.shape().to_vec(), t.as_f32()?.to_vec()))
}

/// The first foldable (layer, node) pair in graph order.
fn next_fold(graph: &Graph) -> Option<Fold> {
    let users = graph.users();
    graph.order.iter().find_map(|&layer| {
        let node = graph.node(layer);
        if !matches!(node.op, Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_)) {
            return None;
        }
        let weight = node.input(1)?;
        let (shape, weight_values) = own_initializer(graph, &users, weight, layer)?;
        let out_shape = layer_shape(&node.op, &shape)?;
        let channel = channel_of(&node.op, &shape)?;
        let weight_shape_ok = channel.len() == weight_values.len();
        if !weight_shape_ok {
            return None;
        }
        let (bias, bias_values) = match node.input(2) {
            None => (None, vec![0.0; out_shape.channels]),
            Some(b) => {
                let (b_shape, values) = own_initializer(graph, &users, b, layer)?;
                let beta = match &node.op {
                    Op::Gemm(a) => f64::from(a.beta.unwrap_or(1.0)),
                    _ => 1.0,
                };
                let vector = per_channel_bias(&node.op, &b_shape, &values, out_shape)?;
                (Some(b), vector.iter().map(|v| v * beta).collect())
            }
        };
        let out = node.output(0)?;
        if graph.outputs.contains(&out) {
            return None;
        }
        let [(reader, _)] = users[out.index()].as_slice() else {
            return None;
        };
        let reader_node = graph.node(*reader);
        reader_node.output(0)?;
        let affine = affine_of(graph, reader_node, out, out_shape)?;
        Some(Fold {
            layer,
            node: *reader,
            weight,
            weight_shape: shape,
            weight_values,
            channel,
            bias,
            bias_values,
            affine,
        })
    })
}

/// Rewrites the layer of `fold` and drops the folded node from the order.
fn apply(graph: &mut Graph, fold: &Fold) -> Folded {
    let scaled = scale_weight(&fold.weight_values, &fold.channel, &fold.affine);
    graph.value_mut(fold.weight).def =
        ValueDef::Initializer(f32_tensor(fold.weight_shape.clone(), scaled));
    let bias = map_bias(&fold.bias_values, &fold.affine);
    let bias_tensor = f32_tensor(vec![bias.len()], bias);
    let bias_value = match fold.bias {
        Some(b) => {
            let v = graph.value_mut(b);
            v.ty = Some(wdq_ir::TensorType::known(DType::F32, bias_tensor.shape()));
            v.def = ValueDef::Initializer(bias_tensor);
            b
        }
        None => {
            let name = bias_name(graph, fold.weight);
            graph.add_initializer(name, Tensor::clone(&bias_tensor))
        }
    };
    let layer = graph.node_mut(fold.layer);
    if layer.inputs.len() < 3 {
        layer.inputs.resize(3, None);
    }
    layer.inputs[2] = Some(bias_value);
    if let Op::Gemm(a) = &mut layer.op {
        a.beta = a.beta.map(|_| 1.0);
    }
    // The folded node's output becomes the layer's; the layer's old output
    // goes to the folded node, which leaves the order.
    let old = graph.node(fold.layer).outputs[0];
    let new = graph.node(fold.node).outputs[0];
    graph.node_mut(fold.layer).outputs[0] = new;
    graph.node_mut(fold.node).outputs[0] = old;
    if let Some(v) = new {
        graph.value_mut(v).def = ValueDef::Node {
            node: fold.layer,
            slot: 0,
        };
    }
    if let Some(v) = old {
        graph.value_mut(v).def = ValueDef::Node {
            node: fold.node,
            slot: 0,
        };
    }
    graph.order.retain(|&n| n != fold.node);
    let label = graph.node_label(fold.node);
    let op = graph.node(fold.node).op.op_type().to_string();
    note_folded(&mut graph.node_mut(fold.layer).metadata, &label);
    Folded {
        layer: fold.layer,
        node: label,
        op,
    }
}

/// `<layer>.bias` when the weight is `<layer>.weight`, else `<weight>_bias`,
/// made unique.
fn bias_name(graph: &Graph, weight: ValueId) -> String {
    let w = &graph.value(weight).name;
    let base = match w.strip_suffix(".weight") {
        Some(stem) => format!("{stem}.bias"),
        None => format!("{w}_bias"),
    };
    let taken: HashSet<&str> = graph.values.iter().map(|v| v.name.as_str()).collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(name.as_str()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// Appends `label` to the layer's `wdq.folded` list.
fn note_folded(metadata: &mut Vec<(String, String)>, label: &str) {
    match metadata.iter_mut().find(|(k, _)| k == FOLDED_KEY) {
        Some((_, v)) => {
            v.push(',');
            v.push_str(label);
        }
        None => metadata.push((FOLDED_KEY.to_string(), label.to_string())),
    }
}

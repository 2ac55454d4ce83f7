//! `inspect`: what a model is made of: opsets, inputs and outputs, an op
//! histogram and the weighted layers that the later stages quantize.

use crate::specialise::Specialisation;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use wdq_ir::{layer_units, Graph, LayerUnit, Model, TensorType, ValueId};

/// A summary of a model, serialised as `inspect --json`.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    pub ir_version: i64,
    pub producer: String,
    pub opsets: Vec<(String, i64)>,
    pub inputs: Vec<ValueSummary>,
    pub outputs: Vec<ValueSummary>,
    /// Op type (with domain for non-default domains) to node count.
    pub op_histogram: BTreeMap<String, usize>,
    pub node_count: usize,
    pub layers: Vec<LayerSummary>,
    pub weighted_parameters: usize,
    /// Weighted nodes inside subgraphs (If branches, Loop bodies): listed
    /// with their branch and why they are not layers.
    pub branch_layers: Vec<BranchLayerSummary>,
    /// The `If` nodes specialised away (with the fixed inputs of --data)
    /// and those left undecided.
    pub ifs: Specialisation,
}

/// A weighted node inside a subgraph ([`wdq_onnx::Subgraph`]): not a layer.
#[derive(Clone, Debug, Serialize)]
pub struct BranchLayerSummary {
    /// The main-graph node holding the subgraph.
    pub host: String,
    pub branch: String,
    /// Why it is not a layer.
    pub reason: String,
    #[serde(flatten)]
    pub layer: LayerSummary,
}

/// A graph input or output.
#[derive(Clone, Debug, Serialize)]
pub struct ValueSummary {
    pub name: String,
    pub dtype: String,
    /// Dimensions as text: numbers, symbolic names, or `?`.
    pub shape: Option<Vec<String>>,
}

/// A quantization unit: a weight and the layers reading it.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSummary {
    pub node: String,
    /// The other layer nodes reading the same (tied) weight.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tied: Vec<String>,
    pub op: String,
    pub weight: String,
    /// Further weights quantized with it (an LSTM/GRU/RNN's `R`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub companions: Vec<String>,
    pub weight_dtype: String,
    pub shape: Vec<usize>,
    pub parameters: usize,
    /// Whether the weight reaches the layer through a DequantizeLinear.
    pub quantized: bool,
}

impl LayerSummary {
    /// The summary of `unit`, a quantization unit of `graph`.
    pub fn of(graph: &Graph, unit: &LayerUnit) -> LayerSummary {
        let l = &unit.layer;
        LayerSummary {
            node: graph.node_label(l.node),
            tied: unit.users[1..]
                .iter()
                .map(|&n| graph.node_label(n))
                .collect(),
            op: graph.node(l.node).op.op_type().to_string(),
            weight: graph.value(l.weight).name.clone(),
            companions: l
                .companions
                .iter()
                .map(|c| graph.value(c.weight).name.clone())
                .collect(),
            weight_dtype: l.weight_tensor.dtype().to_string(),
            shape: l.weight_tensor.shape().to_vec(),
            parameters: l.parameter_count(),
            quantized: l.dequantize.is_some(),
        }
    }
}

impl ModelSummary {
    /// Summarises `model`, whose `If` nodes `ifs` says what became of.
    pub fn of(model: &Model, ifs: Specialisation) -> ModelSummary {
        let graph = &model.graph;
        let mut op_histogram = BTreeMap::new();
        for (_, node) in graph.live_nodes() {
            let key = match node.op.domain() {
                "" | "ai.onnx" => node.op.op_type().to_string(),
                d => format!("{d}::{}", node.op.op_type()),
            };
            *op_histogram.entry(key).or_insert(0) += 1;
        }
        let layers: Vec<LayerSummary> = layer_units(graph)
            .iter()
            .map(|u| LayerSummary::of(graph, u))
            .collect();
        let branch_layers = wdq_onnx::weighted_subgraphs(model)
            .iter()
            .flat_map(|sub| {
                layer_units(&sub.graph)
                    .into_iter()
                    .map(move |u| BranchLayerSummary {
                        host: graph.node_label(sub.host),
                        branch: sub.branch.clone(),
                        reason: sub.reason(),
                        layer: LayerSummary::of(&sub.graph, &u),
                    })
            })
            .collect();
        let value =
            |id: &ValueId| value_summary(&graph.value(*id).name, graph.value(*id).ty.as_ref());
        ModelSummary {
            ir_version: model.ir_version,
            producer: format!("{} {}", model.producer_name, model.producer_version)
                .trim()
                .to_string(),
            opsets: model
                .opsets
                .iter()
                .map(|o| (o.domain.clone(), o.version))
                .collect(),
            inputs: graph
                .inputs
                .iter()
                .filter(|v| matches!(graph.value(**v).def, wdq_ir::ValueDef::Input))
                .map(value)
                .collect(),
            outputs: graph.outputs.iter().map(value).collect(),
            node_count: graph.order.len(),
            weighted_parameters: layers.iter().map(|l| l.parameters).sum(),
            op_histogram,
            layers,
            branch_layers,
            ifs,
        }
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let opsets: Vec<String> = self
            .opsets
            .iter()
            .map(|(d, v)| format!("{} {v}", if d.is_empty() { "ai.onnx" } else { d }))
            .collect();
        let _ = writeln!(
            s,
            "IR version {}, opsets: {}",
            self.ir_version,
            opsets.join(", ")
        );
        if !self.producer.is_empty() {
            let _ = writeln!(s, "producer: {}", self.producer);
        }
        for (title, values) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            let _ = writeln!(s, "{title}:");
            for v in values {
                let _ = writeln!(s, "  {}  {}", v.name, type_text(v));
            }
        }
        let ops: Vec<String> = self
            .op_histogram
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(s, "{} nodes: {}", self.node_count, ops.join(", "));
        for i in &self.ifs.specialised {
            let on = if i.on.is_empty() {
                "constants".to_string()
            } else {
                format!("fixed input {}", i.on.join(", "))
            };
            let _ = writeln!(
                s,
                "If `{}` specialised: condition `{}` from {on}, {} inlined",
                i.node, i.condition, i.taken
            );
        }
        for i in &self.ifs.undecided {
            let _ = writeln!(
                s,
                "If `{}` left as is: condition `{}` depends on input {} (give it once in --data to specialise it; its branches' layers are not listed)",
                i.node,
                i.condition,
                i.on.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "weighted layers: {} ({} parameters)",
            self.layers.len(),
            self.weighted_parameters
        );
        let rows: Vec<[String; 6]> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let shape: Vec<String> = l.shape.iter().map(usize::to_string).collect();
                let dtype = if l.quantized {
                    format!(" ({} via DQ)", l.weight_dtype)
                } else {
                    String::new()
                };
                let tied: String = l.tied.iter().map(|t| format!(" +{t}")).collect();
                let also: String = l.companions.iter().map(|c| format!(" +{c}")).collect();
                [
                    (i + 1).to_string(),
                    format!("{}{tied}", l.node),
                    l.op.clone(),
                    format!("{}{also}{dtype}", l.weight),
                    shape.join("x"),
                    l.parameters.to_string(),
                ]
            })
            .collect();
        s.push_str(&table(
            &["#", "node", "op", "weight", "shape", "params"],
            &rows,
        ));
        if !self.branch_layers.is_empty() {
            let _ = writeln!(
                s,
                "weighted nodes inside subgraphs, not layers: {}",
                self.branch_layers.len()
            );
            let rows: Vec<[String; 5]> = self
                .branch_layers
                .iter()
                .map(|b| {
                    let l = &b.layer;
                    let shape: Vec<String> = l.shape.iter().map(usize::to_string).collect();
                    [
                        l.node.clone(),
                        l.op.clone(),
                        l.weight.clone(),
                        shape.join("x"),
                        format!("{} {}", b.host, b.branch),
                    ]
                })
                .collect();
            s.push_str(&table(&["node", "op", "weight", "shape", "in"], &rows));
            let mut reasons: Vec<&str> = self
                .branch_layers
                .iter()
                .map(|b| b.reason.as_str())
                .collect();
            reasons.dedup();
            for reason in reasons {
                let _ = writeln!(s, "  {reason}");
            }
        }
        s
    }
}

fn value_summary(name: &str, ty: Option<&TensorType>) -> ValueSummary {
    ValueSummary {
        name: name.to_string(),
        dtype: ty.map_or_else(|| "?".to_string(), |t| t.dtype.to_string()),
        shape: ty
            .and_then(|t| t.shape.as_ref())
            .map(|dims| dims.iter().map(crate::layout::dim_text).collect()),
    }
}

fn type_text(v: &ValueSummary) -> String {
    match &v.shape {
        Some(dims) => format!("{}[{}]", v.dtype, dims.join(",")),
        None => format!("{}[..]", v.dtype),
    }
}

/// A left-aligned text table with a header row.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let line = |cells: Vec<&str>, s: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(s, "  {}", padded.join("  ").trim_end());
    };
    line(header.to_vec(), &mut s);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut s);
    }
    s
}

//! Validates a written QDQ model against a target [`Profile`]: the same
//! table the lowering read, applied to what is in the file. Every
//! violation names the node (or `(model)`), the rule and what was found.

use crate::options::{ActivationType, BiasMode, Int4Storage, WeightGranularity};
use crate::profile::Profile;
use std::fmt;
use wdq_ir::{weighted_layers, DType, Graph, Model, Op, ValueDef, ValueId, WeightedLayer};
use wdq_quant::{fraction_length, ScaleMode, WeightRange};

/// One way a model breaks a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The node's label, or `(model)`.
    pub node: String,
    /// A short rule name (`weight-bits`, `activation-type`, ...).
    pub rule: &'static str,
    /// What was found and what the profile takes.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [{}] {}", self.node, self.rule, self.detail)
    }
}

/// The result of [`check`]: the violations and how many layers were
/// quantized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub quantized_layers: usize,
    pub violations: Vec<Violation>,
}

/// Checks `model` against `profile` (see the module docs).
pub fn check(model: &Model, profile: &Profile) -> CheckReport {
    let graph = &model.graph;
    let mut report = CheckReport::default();
    let mut v = |node: String, rule: &'static str, detail: String| {
        report.violations.push(Violation { node, rule, detail });
    };
    let opset = model.default_opset().unwrap_or(0);
    if opset < profile.min_opset {
        v(
            "(model)".into(),
            "opset",
            format!(
                "opset {opset}; {} reads opset {} and above",
                profile.name, profile.min_opset
            ),
        );
    }
    for (id, node) in graph.live_nodes() {
        match &node.op {
            Op::BatchNormalization(_) => v(
                graph.node_label(id),
                "batchnorm-folded",
                "a BatchNormalization is left; it belongs in the preceding layer".into(),
            ),
            Op::QuantizeLinear(_) => {
                for (rule, detail) in activation_problems(graph, node, profile) {
                    v(graph.node_label(id), rule, detail);
                }
            }
            _ => {}
        }
    }
    let mut quantized = 0;
    for layer in weighted_layers(graph) {
        if layer.dequantize.is_none() {
            continue;
        }
        quantized += 1;
        // The weight, then each companion (an LSTM's R, named in the detail).
        for (i, weight) in std::iter::once(layer.clone())
            .chain(layer.companion_views())
            .enumerate()
        {
            for (rule, detail) in layer_problems(graph, &weight, profile, opset) {
                let detail = match i {
                    0 => detail,
                    _ => format!("{}: {detail}", graph.value(weight.weight).name),
                };
                v(graph.node_label(layer.node), rule, detail);
            }
        }
    }
    if quantized == 0 {
        v(
            "(model)".into(),
            "quantized",
            "no weighted layer reads a dequantized integer weight".into(),
        );
    }
    report.quantized_layers = quantized;
    report
}

/// The constant tensor behind input `slot` of `node`.
fn input_const(
    graph: &Graph,
    node: &wdq_ir::Node,
    slot: usize,
) -> Option<std::sync::Arc<wdq_ir::Tensor>> {
    graph.resolve_const(node.input(slot)?).map(|(_, t)| t)
}

/// The op that produces `value`, if a node does.
fn producer(graph: &Graph, value: ValueId) -> Option<&wdq_ir::Node> {
    match graph.value(value).def {
        ValueDef::Node { node, .. } => Some(graph.node(node)),
        _ => None,
    }
}

fn scales_problem(graph: &Graph, node: &wdq_ir::Node, profile: &Profile) -> Option<String> {
    let scales = input_const(graph, node, 1)?.to_f32_vec()?;
    let pow2_only = !profile.scale.contains(&ScaleMode::Float);
    let bad = scales.iter().find(|s| fraction_length(**s).is_none())?;
    pow2_only.then(|| {
        format!(
            "scale {bad:e} is not a power of two; {} takes power-of-two scales only",
            profile.name
        )
    })
}

fn activation_problems(
    graph: &Graph,
    node: &wdq_ir::Node,
    profile: &Profile,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let zp = input_const(graph, node, 2);
    let ty = match zp.as_ref().map(|t| t.dtype()) {
        None | Some(DType::U8) => Some(ActivationType::U8),
        Some(DType::I8) => Some(ActivationType::I8),
        Some(DType::U16) => Some(ActivationType::U16),
        Some(DType::I16) => Some(ActivationType::I16),
        Some(_) => None,
    };
    if !ty.is_some_and(|t| profile.activations.contains(&t)) {
        out.push((
            "activation-type",
            format!(
                "quantizes to {}; {} takes {:?} activations",
                zp.as_ref()
                    .map_or("uint8".to_string(), |t| t.dtype().to_string()),
                profile.name,
                profile.activations
            ),
        ));
    }
    let zero_points = zp.and_then(|t| t.to_i64_vec()).unwrap_or_default();
    if profile.symmetric_activations && zero_points.iter().any(|z| *z != 0) {
        out.push((
            "activation-zero-point",
            format!(
                "zero point {zero_points:?}; {} takes symmetric activations (zero point 0)",
                profile.name
            ),
        ));
    }
    if let Some(detail) = scales_problem(graph, node, profile) {
        out.push(("scale-form", detail));
    }
    out
}

/// The bits a layer was written at: its `wdq.bits` annotation, else 4 for
/// an INT4 weight and 8 otherwise.
fn written_bits(graph: &Graph, layer: &WeightedLayer) -> u8 {
    let note = graph
        .node(layer.node)
        .metadata
        .iter()
        .find(|(k, _)| k == "wdq.bits")
        .and_then(|(_, b)| b.parse().ok());
    note.unwrap_or(if layer.weight_tensor.dtype() == DType::I4 {
        4
    } else {
        8
    })
}

fn layer_problems(
    graph: &Graph,
    layer: &WeightedLayer,
    profile: &Profile,
    opset: i64,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let node = graph.node(layer.node);
    let Some(dq_id) = layer.dequantize else {
        return out;
    };
    let dq = graph.node(dq_id);
    let bits = written_bits(graph, layer);
    if let Some(why) = profile.refuses(&node.op, bits) {
        out.push(("weight-bits", why));
    }
    let dtype = layer.weight_tensor.dtype();
    let storage = match dtype {
        DType::I4 => Some(Int4Storage::Packed),
        DType::I8 if bits <= 4 => Some(Int4Storage::Int8),
        DType::I8 => None,
        other => {
            out.push((
                "weight-type",
                format!("{other} weight codes; weights are signed int8 or int4"),
            ));
            None
        }
    };
    if storage.is_some_and(|s| !profile.int4_storage.contains(&s)) {
        out.push((
            "int4-storage",
            format!(
                "{bits}-bit weights stored as {dtype}; {} takes {:?}",
                profile.name, profile.int4_storage
            ),
        ));
    }
    if dtype == DType::I4 && opset < 21 {
        out.push((
            "opset",
            format!("INT4 weights need opset 21, the model has {opset}"),
        ));
    }
    let zero_points = input_const(graph, dq, 2)
        .and_then(|t| t.to_i64_vec())
        .unwrap_or_default();
    if zero_points.iter().any(|z| *z != 0) {
        out.push((
            "weight-zero-point",
            "weight zero point is not 0 (weights are symmetric)".into(),
        ));
    }
    if let Some(codes) = layer.weight_tensor.to_i64_vec() {
        let h = (1i64 << (bits - 1)) - 1;
        let (lo, hi) = codes.iter().fold((0, 0), |(a, b), &c| (a.min(c), b.max(c)));
        if lo < -(h + 1) || hi > h {
            out.push((
                "weight-bits",
                format!("codes span [{lo}, {hi}], beyond {bits} bits"),
            ));
        } else if lo == -(h + 1) && !profile.weight_range.contains(&WeightRange::Full) {
            out.push((
                "weight-range",
                format!(
                    "code {lo} used; {} takes the symmetric range [-{h}, {h}]",
                    profile.name
                ),
            ));
        }
    }
    if let Some(detail) = scales_problem(graph, dq, profile) {
        out.push(("scale-form", detail));
    }
    let scale_count = input_const(graph, dq, 1).map_or(1, |t| t.len());
    let axis = match &dq.op {
        Op::DequantizeLinear(a) => a.axis,
        _ => None,
    };
    let per_channel = scale_count > 1;
    if per_channel {
        let rank = layer.weight_tensor.shape().len() as i64;
        let written = axis.map(|a| if a < 0 { a + rank } else { a }).unwrap_or(1);
        let expected = layer.output_channel_axis(graph).map(|a| a as i64);
        if Some(written) != expected {
            out.push((
                "weight-axis",
                format!(
                    "per-channel scales on axis {written}, the output channels are on {expected:?}"
                ),
            ));
        }
    }
    let granularity = if per_channel {
        WeightGranularity::PerChannel
    } else {
        WeightGranularity::PerTensor
    };
    if !profile.granularity.contains(&granularity) {
        out.push((
            "granularity",
            format!(
                "{granularity:?} weight scales; {} takes {:?}",
                profile.name, profile.granularity
            ),
        ));
    }
    if let Some(problem) = bias_problem(graph, layer, profile) {
        out.push(("bias-form", problem));
    }
    out
}

fn bias_problem(graph: &Graph, layer: &WeightedLayer, profile: &Profile) -> Option<String> {
    let node = graph.node(layer.node);
    if !matches!(node.op, Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_)) {
        return None;
    }
    let bias = node.input(2)?;
    let bias_dq = producer(graph, bias).filter(|p| matches!(p.op, Op::DequantizeLinear(_)));
    let data_quantized = node
        .input(0)
        .and_then(|d| producer(graph, d))
        .is_some_and(|p| matches!(p.op, Op::DequantizeLinear(_)));
    match bias_dq {
        Some(dq) => {
            let codes = input_const(graph, dq, 0)?;
            if !profile.bias.contains(&BiasMode::Int32) {
                return Some(format!(
                    "quantized bias; {} takes float biases",
                    profile.name
                ));
            }
            (codes.dtype() != DType::I32)
                .then(|| format!("{} bias codes; biases are int32", codes.dtype()))
        }
        None if data_quantized && !profile.bias.contains(&BiasMode::Float) => Some(format!(
            "float bias on a quantized layer; {} takes int32 biases (scale s_x * s_w)",
            profile.name
        )),
        None => None,
    }
}

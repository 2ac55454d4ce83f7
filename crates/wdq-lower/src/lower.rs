//! The lowering driver: checks the plan, analyses the planned layers,
//! checks the opset, inserts the activation pairs, rewrites weights and
//! biases and drops the dead weight chains (a [`Pass`] run by the wdq-ir
//! driver, which verifies the result).

use crate::emit::{constant_bytes, Emitter};
use crate::error::LowerError;
use crate::options::{ActivationRanges, ActivationType, BiasMode, LowerOptions, QuantPlan};
use crate::points::points_of;
use crate::resolve::dequantize_scale;
use crate::rewrite::{
    activation_pair, float_bias, int32_bias, storage_dtype, weight, PairParams, PairSource,
};
use crate::site::{analyze, LayerSite};
use std::collections::BTreeMap;
use wdq_ir::{
    run_passes, weighted_layers, Changed, DType, Graph, Model, NodeId, Op, Pass, PassError,
    ValueDef, ValueId,
};
use wdq_quant::ScaleMode;

/// A lowered model and what was done to it.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The QDQ model.
    pub model: Model,
    /// The layers that were quantized, in graph order.
    pub layers: Vec<LoweredLayer>,
    /// The planned layers that were left as they were, with the reason.
    pub skipped: Vec<SkippedLayer>,
    /// Bytes of the constant tensors the input model's live nodes read
    /// (initializers and `Constant` tensors; int4 counted packed).
    pub weight_bytes_before: usize,
    /// The same for the lowered model.
    pub weight_bytes_after: usize,
}

/// One quantized layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LoweredLayer {
    /// The layer node.
    pub id: NodeId,
    /// The layer node's label.
    pub node: String,
    pub bits: u8,
    /// Smallest and largest weight scale.
    pub scales_min: f32,
    pub scales_max: f32,
    /// With power-of-two scales: the smallest and largest fraction length
    /// `n` of the layer's Qm.n formats.
    pub fraction_lengths: Option<(i32, i32)>,
    /// The weight zero point (0: weights are symmetric).
    pub zero_point: i32,
    /// `per-channel(axis=N)` or `per-tensor`.
    pub granularity: String,
}

/// A planned layer that was not quantized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLayer {
    /// The layer node.
    pub id: NodeId,
    /// The layer node's label.
    pub node: String,
    /// Why, as a sentence.
    pub reason: String,
}

/// The planned layers split into those that can be lowered (with their
/// bits) and those that cannot.
struct Analysis {
    sites: Vec<(LayerSite, u8)>,
    skipped: Vec<SkippedLayer>,
}

fn analyze_plan(
    graph: &Graph,
    plan: &QuantPlan,
    options: &LowerOptions,
) -> Result<Analysis, LowerError> {
    let layers = weighted_layers(graph);
    let live: std::collections::HashSet<NodeId> = graph.order.iter().copied().collect();
    let mut sites = Vec::new();
    let mut skipped = Vec::new();
    for (&node, choice) in &plan.layers {
        let is_layer_kind = node.index() < graph.nodes.len()
            && live.contains(&node)
            && graph.node(node).op.is_weighted_kind();
        if !is_layer_kind {
            return Err(LowerError::NotALayer { node: node.0 });
        }
        let label = graph.node_label(node);
        if !(2..=8).contains(&choice.bits) {
            return Err(LowerError::InvalidBits {
                node: label,
                bits: choice.bits,
            });
        }
        let Some(layer) = layers.iter().find(|l| l.node == node) else {
            skipped.push(SkippedLayer {
                id: node,
                node: label,
                reason: "no constant float weight".into(),
            });
            continue;
        };
        match analyze(graph, layer, options.granularity) {
            Ok(site) => sites.push((site, choice.bits)),
            Err(reason) => skipped.push(SkippedLayer {
                id: node,
                node: label,
                reason,
            }),
        }
    }
    let position: BTreeMap<NodeId, usize> = graph
        .order
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i))
        .collect();
    sites.sort_by_key(|(s, _)| position.get(&s.node).copied());
    Ok(Analysis { sites, skipped })
}

/// The default-domain opset the lowering of `plan` needs, and why: 13 for
/// per-axis `DequantizeLinear`, 21 for INT4 weights or 16-bit activations,
/// 10 for any other QDQ, 0 when nothing is quantized. Convert the model to
/// at least this opset (`wdq_onnx::convert_opset`) before [`lower`].
///
/// # Errors
/// As [`lower`] for a plan that names a non-layer or invalid bits.
pub fn required_opset(
    model: &Model,
    plan: &QuantPlan,
    options: &LowerOptions,
) -> Result<i64, LowerError> {
    let analysis = analyze_plan(&model.graph, plan, options)?;
    Ok(requirement(&analysis.sites, options).0)
}

fn requirement(sites: &[(LayerSite, u8)], options: &LowerOptions) -> (i64, &'static str) {
    if sites.is_empty() {
        return (0, "nothing to quantize");
    }
    let int4 = sites
        .iter()
        .any(|(_, bits)| storage_dtype(*bits, options.int4_storage) == DType::I4);
    if int4 {
        return (21, "INT4 weights");
    }
    if matches!(
        options.activations,
        ActivationType::U16 | ActivationType::I16
    ) {
        return (21, "16-bit activations");
    }
    if sites.iter().any(|(s, _)| s.axis.is_some()) {
        return (13, "per-axis DequantizeLinear");
    }
    (10, "QuantizeLinear/DequantizeLinear")
}

/// Lowers `model` to a QDQ model: the layers of `plan` get their weights
/// quantized to their bits (symmetric, signed, zero point 0), the data input
/// and output of each of them a `QuantizeLinear -> DequantizeLinear` pair
/// from `ranges` (see [`crate::activation_points`]), and their biases int32
/// codes when the input is quantized. Everything else (names, metadata,
/// opaque nodes, doc strings) stays as it was.
///
/// The opset is never changed here: convert the model first to
/// [`required_opset`] (INT4 needs 21; the IR version is raised to 10 when
/// INT4 weights are emitted into an opset-21 model).
///
/// # Errors
/// [`LowerError::OpsetTooLow`] when the model's default opset is below what
/// the emitted ops need; [`LowerError::NotALayer`] / [`LowerError::InvalidBits`]
/// for a bad plan; [`LowerError::MissingRange`] for an activation point with
/// no range; [`LowerError::Quant`] when a tensor has no valid parameters;
/// [`LowerError::Verify`] if the result breaks an IR invariant.
pub fn lower(
    model: &Model,
    plan: &QuantPlan,
    ranges: &ActivationRanges,
    options: &LowerOptions,
) -> Result<Lowered, LowerError> {
    let Analysis { sites, skipped } = analyze_plan(&model.graph, plan, options)?;
    let (need, why) = requirement(&sites, options);
    let have = model.default_opset().unwrap_or(0);
    if need > have {
        return Err(LowerError::OpsetTooLow { have, need, why });
    }
    let mut pass = LowerPass {
        original: model,
        sites,
        ranges,
        options,
        layers: Vec::new(),
    };
    let mut out = model.clone();
    let driven: &mut dyn Pass<Error = LowerError> = &mut pass;
    run_passes(&mut out, &mut [driven]).map_err(|e| match e {
        PassError::Failed { source, .. } => source,
        PassError::Invalid { source, .. } => LowerError::Verify { source },
    })?;
    Ok(Lowered {
        weight_bytes_before: constant_bytes(&model.graph),
        weight_bytes_after: constant_bytes(&out.graph),
        model: out,
        layers: pass.layers,
        skipped,
    })
}

/// Lowering as a [`Pass`] over a copy of `original`: the driver verifies
/// the result. `layers` records what was quantized.
struct LowerPass<'a> {
    original: &'a Model,
    sites: Vec<(LayerSite, u8)>,
    ranges: &'a ActivationRanges,
    options: &'a LowerOptions,
    layers: Vec<LoweredLayer>,
}

impl Pass for LowerPass<'_> {
    type Error = LowerError;
    fn name(&self) -> &str {
        "lower"
    }
    fn run(&mut self, out: &mut Model) -> Result<Changed, LowerError> {
        self.layers = emit_qdq(self.original, out, &self.sites, self.ranges, self.options)?;
        Ok(Changed::Yes)
    }
}

/// Writes the QDQ form of `sites` into `out`, a copy of `model`.
fn emit_qdq(
    model: &Model,
    out: &mut Model,
    sites: &[(LayerSite, u8)],
    ranges: &ActivationRanges,
    options: &LowerOptions,
) -> Result<Vec<LoweredLayer>, LowerError> {
    let need = requirement(sites, options).0;
    if need >= 21 {
        out.ir_version = out.ir_version.max(10);
    }
    let points = match options.activations.spec() {
        Some(_) => {
            let layer_sites: Vec<LayerSite> = sites.iter().map(|(s, _)| s.clone()).collect();
            points_of(&model.graph, &layer_sites)
        }
        None => Vec::new(),
    };
    let mut em = Emitter::new(&mut out.graph);
    let mut pairs: BTreeMap<ValueId, PairParams> = BTreeMap::new();
    if let Some(spec) = options.activations.spec() {
        for &point in &points {
            let source = match pass_through_source(&model.graph, point, &pairs) {
                Some(shared) => PairSource::Shared(shared),
                None => PairSource::Range(ranges.0.get(&point).copied().ok_or_else(|| {
                    LowerError::MissingRange {
                        value: model.graph.value(point).name.clone(),
                    }
                })?),
            };
            let pair = activation_pair(&mut em, point, source, spec, options)?;
            pairs.insert(point, pair);
        }
    }
    let mut layers = Vec::with_capacity(sites.len());
    let mut chains = Vec::new();
    for (site, bits) in sites {
        let params = weight(&mut em, site, *bits, options)?;
        chains.extend(site.weight.chain.iter().copied());
        for (_, companion) in &site.companions {
            chains.extend(companion.chain.iter().copied());
        }
        if let (Some(bias), BiasMode::Int32) = (&site.bias, options.bias) {
            let input_scale = site.data.and_then(|d| {
                pairs
                    .get(&d)
                    .map(|p| p.scale_value)
                    .or_else(|| dequantize_scale(&model.graph, d))
            });
            if let (Some(s_x), true) = (input_scale, bias.int32_ok) {
                int32_bias(&mut em, site, bias, s_x, &params)?;
                chains.extend(bias.value.chain.iter().copied());
                layers.push(record(site, *bits, &params, options));
                continue;
            }
        }
        if let Some(bias) = &site.bias {
            if float_bias(&mut em, site, bias, &model.graph)? {
                chains.extend(bias.value.chain.iter().copied());
            }
        }
        layers.push(record(site, *bits, &params, options));
    }
    em.finish(&chains);
    Ok(layers)
}

/// The pair of the point that `value` is computed from by ops that only
/// move or select values (MaxPool, Flatten, ...: their output codes are
/// their input codes), if any.
fn pass_through_source(
    graph: &Graph,
    value: ValueId,
    pairs: &BTreeMap<ValueId, PairParams>,
) -> Option<PairParams> {
    let mut current = value;
    loop {
        let ValueDef::Node { node, slot: 0 } = graph.value(current).def else {
            return None;
        };
        let node = graph.node(node);
        let input = match node.op {
            Op::MaxPool(_)
            | Op::GlobalMaxPool
            | Op::Flatten(_)
            | Op::Reshape(_)
            | Op::Transpose(_)
            | Op::Squeeze(_)
            | Op::Unsqueeze(_)
            | Op::Identity => node.input(0)?,
            _ => return None,
        };
        if let Some(pair) = pairs.get(&input) {
            return Some(*pair);
        }
        current = input;
    }
}

fn record(
    site: &LayerSite,
    bits: u8,
    params: &wdq_quant::QuantParams,
    options: &LowerOptions,
) -> LoweredLayer {
    let scales_min = params.scales.iter().copied().fold(f32::INFINITY, f32::min);
    let scales_max = params.scales.iter().copied().fold(0.0, f32::max);
    let pow2 = options.scale == ScaleMode::PowerOfTwo;
    let fraction_lengths = params.fraction_lengths().filter(|_| pow2).and_then(|n| {
        let lo = n.iter().copied().min()?;
        let hi = n.iter().copied().max()?;
        Some((lo, hi))
    });
    LoweredLayer {
        id: site.node,
        node: site.label.clone(),
        bits,
        scales_min,
        scales_max,
        fraction_lengths,
        zero_point: params.zero_points.first().copied().unwrap_or(0),
        granularity: match site.axis {
            Some(axis) => format!("per-channel(axis={axis})"),
            None => "per-tensor".into(),
        },
    }
}

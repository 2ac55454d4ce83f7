//! Candidate bit assignments: the model is lowered exactly as it will be
//! written (QuantizeLinear/DequantizeLinear with the emitted arithmetic), so
//! a candidate's score is what a runtime measures on the written file.
//! [`Candidates`] lowers; [`ValidationScore`] (`score.rs`) is the built-in
//! [`Evaluator`](super::Evaluator).

use super::{QuantizeError, QuantizeOptions, ValidationScore};
use crate::calibrate::activation_ranges;
use crate::data::Dataset;
use std::collections::BTreeMap;
use wdq_ir::{layer_units, Graph, LayerUnit, Model, NodeId};
use wdq_lower::{
    activation_points, lower, required_opset, ActivationRanges, LayerChoice, Lowered, QuantPlan,
};

/// `model` with its default opset raised to what the most demanding plan
/// (every layer at low bits) needs. Done once, before fine-tuning, so that
/// every later stage sees the same graph and the same node ids.
///
/// # Errors
/// [`QuantizeError`] from lowering analysis or opset conversion.
pub fn raise_opset(model: &Model, options: &QuantizeOptions) -> Result<Model, QuantizeError> {
    let mut base = model.clone();
    let units = layer_units(&base.graph);
    let keys: Vec<NodeId> = units.iter().map(LayerUnit::node).collect();
    let need = required_opset(
        &base,
        &plan(&base.graph, &units, &keys, options),
        &options.lower,
    )?;
    if base.default_opset().unwrap_or(1) < need {
        wdq_onnx::convert_opset(&mut base, need)?;
    }
    Ok(base)
}

/// `model` prepared for quantization, once, before fine-tuning: its
/// opset raised ([`raise_opset`]), then BatchNormalization and per-channel
/// Mul/Add/Sub/Div by constants folded into the preceding
/// Conv/ConvTranspose/Gemm ([`wdq_lower::FoldIntoLayers`], a
/// [`wdq_ir::Pass`]). Every later stage (drift, calibration, the search's
/// candidates, the written model) sees this graph, so what the search
/// measures is what ships.
///
/// # Errors
/// [`QuantizeError`] from [`raise_opset`] or a pass that breaks the graph.
pub fn prepare(model: &Model, options: &QuantizeOptions) -> Result<Model, QuantizeError> {
    let mut base = raise_opset(model, options)?;
    wdq_ir::run_passes(&mut base, &mut [&mut wdq_lower::FoldIntoLayers::default()])?;
    Ok(base)
}

/// A model ready to be lowered with any choice of low-bit units: its
/// activations calibrated once.
pub struct Candidates<'a> {
    /// The model the candidates are lowered from (see [`raise_opset`]).
    pub base: Model,
    /// Its quantization units' keys (first layer node), in graph order.
    pub layers: Vec<NodeId>,
    units: Vec<LayerUnit>,
    ranges: ActivationRanges,
    options: &'a QuantizeOptions,
}

impl<'a> Candidates<'a> {
    /// Calibrates the activations of `base` on `train`.
    ///
    /// # Errors
    /// [`QuantizeError`] from calibration.
    pub fn calibrate(
        base: &Model,
        train: &Dataset,
        options: &'a QuantizeOptions,
    ) -> Result<Candidates<'a>, QuantizeError> {
        let points = activation_points(base, &options.lower);
        let ranges = ActivationRanges(activation_ranges(
            base,
            train,
            &points,
            &options.calibration,
            options.calibration_samples,
            options.eval_batch_size,
        )?);
        let units = layer_units(&base.graph);
        Ok(Candidates {
            base: base.clone(),
            layers: units.iter().map(LayerUnit::node).collect(),
            units,
            ranges,
            options,
        })
    }

    /// The unit keyed by `node`.
    pub fn unit(&self, node: NodeId) -> Option<&LayerUnit> {
        self.units.iter().find(|u| u.node() == node)
    }

    /// The units keyed in `low` at low bits, every other unit at high
    /// bits, lowered.
    ///
    /// # Errors
    /// [`QuantizeError::Lower`].
    pub fn lower(&self, low: &[NodeId]) -> Result<Lowered, QuantizeError> {
        Ok(lower(
            &self.base,
            &plan(&self.base.graph, &self.units, low, self.options),
            &self.ranges,
            &self.options.lower,
        )?)
    }
}

/// Candidates and the built-in score together, shareable across threads
/// (`compare` measures many candidates in parallel).
pub struct CandidateEvaluator<'a> {
    pub candidates: Candidates<'a>,
    pub score: ValidationScore<'a>,
    /// The float model's figure on the validation data.
    pub fp32_accuracy: f64,
}

impl<'a> CandidateEvaluator<'a> {
    /// Calibrates `base` (see [`raise_opset`]) on `train` and measures it on
    /// `val`.
    ///
    /// # Errors
    /// [`QuantizeError`] from calibration or execution.
    pub fn prepare(
        base: &Model,
        train: &Dataset,
        val: &'a Dataset,
        options: &'a QuantizeOptions,
    ) -> Result<CandidateEvaluator<'a>, QuantizeError> {
        let score = ValidationScore::new(base, val, options)?;
        let candidates = Candidates::calibrate(base, train, options)?;
        let fp32_accuracy = score.accuracy(base)?;
        Ok(CandidateEvaluator {
            candidates,
            score,
            fp32_accuracy,
        })
    }

    /// The lowered model for `low` and its figure on the validation data.
    ///
    /// # Errors
    /// [`QuantizeError`] from lowering or execution.
    pub fn measure(&self, low: &[NodeId]) -> Result<(Lowered, f64), QuantizeError> {
        let lowered = self.candidates.lower(low)?;
        let accuracy = self.score.accuracy(&lowered.model)?;
        Ok((lowered, accuracy))
    }
}

/// The units keyed in `low` at low bits, the other `units` at high bits;
/// every user of a unit gets the unit's bits. A unit the target keeps float
/// ([`wdq_lower::Profile::keeps_float`]) is left out of the plan.
fn plan(
    graph: &Graph,
    units: &[LayerUnit],
    low: &[NodeId],
    options: &QuantizeOptions,
) -> QuantPlan {
    let profile = options.target.profile();
    let mut layers = BTreeMap::new();
    for unit in units {
        if profile.keeps_float(&graph.node(unit.node()).op).is_some() {
            continue;
        }
        let bits = if low.contains(&unit.node()) {
            options.low_bits
        } else {
            options.high_bits
        };
        for &user in &unit.users {
            layers.insert(user, LayerChoice { bits });
        }
    }
    QuantPlan { layers }
}

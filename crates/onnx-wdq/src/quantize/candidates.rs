//! Candidate bit assignments: the model is lowered exactly as it will be
//! written (QuantizeLinear/DequantizeLinear with the emitted arithmetic), so
//! a candidate's score is what a runtime measures on the written file.
//! [`Candidates`] lowers; [`ValidationScore`] is the built-in
//! [`Evaluator`](super::Evaluator): the metric on validation data, run by
//! wdq-exec.

use super::metric::{check, default_metric, figures, OutputSet};
use super::{Evaluator, Metric, QuantizeError, QuantizeOptions};
use crate::calibrate::activation_ranges;
use crate::data::Dataset;
use ndarray::ArrayD;
use std::collections::BTreeMap;
use wdq_exec::plan::Plan;
use wdq_ir::{layer_units, LayerUnit, Model, NodeId};
use wdq_lower::{
    activation_points, lower, required_opset, ActivationRanges, LayerChoice, Lowered, QuantPlan,
};
use wdq_plan::metric::{judge, Judged, PerSample};
use wdq_plan::stats::paired_loss;
use wdq_plan::{Goal, Measure};

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
    let need = required_opset(&base, &plan(&units, &keys, options), &options.lower)?;
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
            &plan(&self.units, low, self.options),
            &self.ranges,
            &self.options.lower,
        )?)
    }
}

/// The built-in evaluator: the metric of the options (or the one chosen
/// from the data and the output shapes) on validation data, with each
/// score's resolution and 95% interval.
pub struct ValidationScore<'a> {
    val: &'a Dataset,
    /// The metric (given, or chosen from the data and the outputs).
    pub metric: Metric,
    /// The outputs the metric reads.
    pub outputs: OutputSet,
    /// What candidates' outputs are compared with: the original model's
    /// (the truth of the agreement metrics; fidelity metrics' reference
    /// until [`Evaluator::use_reference`]).
    truth: Vec<ArrayD<f32>>,
    /// The reference model's figures per sample (the paired side of the
    /// loss interval).
    reference: PerSample,
    /// The last judged score's resolution.
    resolution: Option<f64>,
    batch_size: usize,
}

impl<'a> ValidationScore<'a> {
    /// Runs `base` on `val`, chooses the metric when the options give none
    /// and refuses one that needs labels it lacks or cannot tell candidates
    /// apart.
    ///
    /// # Errors
    /// [`QuantizeError`] naming the metric and the output; execution errors
    /// of `base`.
    pub fn new(
        base: &Model,
        val: &'a Dataset,
        options: &QuantizeOptions,
    ) -> Result<ValidationScore<'a>, QuantizeError> {
        let plan = Plan::new(base)?;
        let outputs = OutputSet::resolve(&plan, &options.metric_outputs)?;
        let truth = outputs.run(&plan, val, options.eval_batch_size)?;
        let labelled = val.labels.is_some();
        let metric = options
            .metric
            .unwrap_or_else(|| default_metric(&truth, labelled));
        check(metric, &outputs, &truth, labelled)?;
        let reference = figures(metric, &truth, &truth, val.labels.as_deref());
        Ok(ValidationScore {
            val,
            metric,
            outputs,
            truth,
            reference,
            resolution: None,
            batch_size: options.eval_batch_size,
        })
    }

    /// The judged outputs of `model` on the validation data.
    ///
    /// # Errors
    /// [`QuantizeError`] from execution.
    pub fn run(&self, model: &Model) -> Result<Vec<ArrayD<f32>>, QuantizeError> {
        Ok(self
            .outputs
            .run(&Plan::new(model)?, self.val, self.batch_size)?)
    }

    /// Per-sample figures of a model whose judged outputs are `outputs`.
    pub fn figures(&self, outputs: &[ArrayD<f32>]) -> PerSample {
        figures(
            self.metric,
            &self.truth,
            outputs,
            self.val.labels.as_deref(),
        )
    }

    /// The figure of `model` with its resolution and 95% interval (for
    /// accuracy metrics, paired with the reference's per-sample hits).
    ///
    /// # Errors
    /// [`QuantizeError`] from execution.
    pub fn judge(&self, model: &Model) -> Result<Judged, QuantizeError> {
        let hits = match &self.reference {
            PerSample::Hits(h) => Some(h.as_slice()),
            PerSample::Fidelity { .. } => None,
        };
        Ok(judge(self.metric, &self.figures(&self.run(model)?), hits))
    }

    /// The metric of `model` (percent for the accuracy metrics).
    ///
    /// # Errors
    /// [`QuantizeError`] from execution.
    pub fn accuracy(&self, model: &Model) -> Result<f64, QuantizeError> {
        let all: Vec<usize> = (0..self.val.len).collect();
        Ok(self.figures(&self.run(model)?).figure(self.metric, &all))
    }
}

impl Evaluator for ValidationScore<'_> {
    fn score(&mut self, model: &Model) -> Result<f64, QuantizeError> {
        self.accuracy(model)
    }

    fn higher_is_better(&self) -> bool {
        self.metric.higher_is_better()
    }

    fn metric(&self) -> String {
        self.metric.label().to_string()
    }

    fn measure(&mut self, model: &Model) -> Result<Measure, QuantizeError> {
        let judged = self.judge(model)?;
        self.resolution = Some(judged.resolution);
        Ok(Measure::full(judged.score, Some(judged.interval)))
    }

    fn goal(&self) -> Goal {
        match self.metric {
            m if m.is_accuracy() => Goal::Loss,
            Metric::RelL2 => Goal::AtMost,
            _ => Goal::AtLeast,
        }
    }

    fn default_threshold(&self) -> Option<f64> {
        Some(self.metric.default_threshold())
    }

    fn unit(&self) -> String {
        match self.metric.unit() {
            "%" => "% (losses in points)".to_string(),
            "" => "ratio".to_string(),
            u => u.to_string(),
        }
    }

    fn use_reference(&mut self, model: &Model) -> Result<(), QuantizeError> {
        let outputs = self.run(model)?;
        if self.metric.is_accuracy() {
            self.reference = self.figures(&outputs);
        } else {
            self.truth = outputs;
            self.reference = figures(self.metric, &self.truth, &self.truth, None);
        }
        Ok(())
    }

    fn resolution(&self) -> Option<f64> {
        self.resolution
    }

    fn warnings(&self, threshold: f64, guard: bool) -> Vec<String> {
        if !self.metric.is_accuracy() {
            return Vec::new();
        }
        let n = self.val.len;
        let resolution = 100.0 / n.max(1) as f64;
        let mut out = Vec::new();
        if threshold < resolution {
            out.push(format!(
                "the threshold of {threshold} points is below the resolution of {n} validation samples ({resolution:.2} points per sample): only candidates that lose no sample on balance fit"
            ));
        }
        let unchanged = vec![true; n];
        let (_, interval) = paired_loss(&unchanged, &unchanged);
        if interval.high > threshold {
            out.push(format!(
                "{n} validation samples are too few for a threshold of {threshold} points: even a candidate that changes no prediction has a 95% upper bound of {:.2} points on its loss{}",
                interval.high,
                if guard {
                    ", so --guard accepts no low-bit layer"
                } else {
                    " (--guard would accept none)"
                }
            ));
        }
        out
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
/// every user of a unit gets the unit's bits.
fn plan(units: &[LayerUnit], low: &[NodeId], options: &QuantizeOptions) -> QuantPlan {
    let mut layers = BTreeMap::new();
    for unit in units {
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

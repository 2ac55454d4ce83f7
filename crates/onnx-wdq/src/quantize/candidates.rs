//! Measuring a candidate bit assignment: the model is lowered exactly as it
//! will be written (QuantizeLinear/DequantizeLinear with the emitted
//! arithmetic) and run by wdq-exec on the validation data, so a candidate's
//! figure is what a runtime measures on the written file.

use super::metric::{check, default_metric, figures, OutputSet};
use super::{Metric, QuantizeError, QuantizeOptions};
use crate::calibrate::activation_ranges;
use crate::data::Dataset;
use ndarray::ArrayD;
use std::collections::BTreeMap;
use wdq_exec::plan::Plan;
use wdq_ir::{weighted_layers, Model, NodeId};
use wdq_lower::{
    activation_points, lower, required_opset, ActivationRanges, LayerChoice, Lowered, QuantPlan,
};
use wdq_plan::metric::{judge, Judged, PerSample};

/// A model prepared for candidate evaluation: opset raised for the QDQ
/// types the options need, activations calibrated, the original model's
/// outputs computed and the metric chosen.
pub struct CandidateEvaluator<'a> {
    /// The model the candidates are lowered from (opset converted).
    pub base: Model,
    /// Its weighted layers, in graph order.
    pub layers: Vec<NodeId>,
    /// The metric (given, or chosen from the data and the outputs).
    pub metric: Metric,
    /// The outputs the metric reads.
    pub outputs: OutputSet,
    /// The original model's figure on the validation data (100% agreement,
    /// an infinite SQNR).
    pub fp32_accuracy: f64,
    ranges: ActivationRanges,
    val: &'a Dataset,
    /// What candidates' outputs are compared with: the original model's
    /// (the truth of the agreement metrics; fidelity metrics' reference
    /// until [`CandidateEvaluator::use_reference`]).
    truth: Vec<ArrayD<f32>>,
    /// The reference model's figures per sample (the paired side of the
    /// loss interval).
    reference: PerSample,
    options: &'a QuantizeOptions,
}

impl<'a> CandidateEvaluator<'a> {
    /// Prepares `model`: raises its opset as the most demanding plan (every
    /// layer at low bits) needs, calibrates activations on `train`, runs it
    /// on `val` and chooses (or checks) the metric.
    ///
    /// # Errors
    /// [`QuantizeError`] from opset conversion, calibration or execution,
    /// or a metric that needs labels or cannot tell candidates apart.
    pub fn prepare(
        model: &Model,
        train: &Dataset,
        val: &'a Dataset,
        options: &'a QuantizeOptions,
    ) -> Result<CandidateEvaluator<'a>, QuantizeError> {
        Self::prepare_with(model, train, val, options, true)
    }

    /// [`CandidateEvaluator::prepare`]; without `check_metric` the metric
    /// is not checked (a caller's own evaluator scores the candidates).
    ///
    /// # Errors
    /// As [`CandidateEvaluator::prepare`].
    pub fn prepare_with(
        model: &Model,
        train: &Dataset,
        val: &'a Dataset,
        options: &'a QuantizeOptions,
        check_metric: bool,
    ) -> Result<CandidateEvaluator<'a>, QuantizeError> {
        let mut base = model.clone();
        let layers: Vec<NodeId> = weighted_layers(&base.graph)
            .iter()
            .map(|l| l.node)
            .collect();
        let need = required_opset(&base, &plan(&layers, &layers, options), &options.lower)?;
        if base.default_opset().unwrap_or(1) < need {
            wdq_onnx::convert_opset(&mut base, need)?;
        }
        let layers: Vec<NodeId> = weighted_layers(&base.graph)
            .iter()
            .map(|l| l.node)
            .collect();
        let fp32_plan = Plan::new(&base)?;
        let outputs = OutputSet::resolve(&fp32_plan, &options.metric_outputs)?;
        let truth = outputs.run(&fp32_plan, val, options.eval_batch_size)?;
        let labelled = val.labels.is_some();
        let metric = options
            .metric
            .unwrap_or_else(|| default_metric(&truth, labelled));
        if check_metric {
            check(metric, &outputs, &truth, labelled)?;
        }
        let points = activation_points(&base, &options.lower);
        let ranges = ActivationRanges(activation_ranges(
            &base,
            train,
            &points,
            &options.calibration,
            options.calibration_samples,
            options.eval_batch_size,
        )?);
        let reference = figures(metric, &truth, &truth, val.labels.as_deref());
        let fp32_accuracy = reference.figure(metric, &(0..val.len).collect::<Vec<_>>());
        Ok(CandidateEvaluator {
            base,
            layers,
            metric,
            outputs,
            fp32_accuracy,
            ranges,
            val,
            truth,
            reference,
            options,
        })
    }

    /// Makes the model whose judged outputs are `outputs` the reference
    /// (`--reference high`): losses are paired with its per-sample figures,
    /// and fidelity metrics compare candidates with its outputs.
    pub fn use_reference(&mut self, outputs: Vec<ArrayD<f32>>) {
        if self.metric.is_accuracy() {
            self.reference = self.figures(&outputs);
        } else {
            self.truth = outputs;
            self.reference = figures(self.metric, &self.truth, &self.truth, None);
        }
    }

    /// The layer node of `base` whose label is `label`.
    pub fn layer_by_label(&self, label: &str) -> Option<NodeId> {
        self.layers
            .iter()
            .copied()
            .find(|&n| self.base.graph.node_label(n) == label)
    }

    /// `low` at low bits, every other layer at high bits, lowered.
    ///
    /// # Errors
    /// [`QuantizeError::Lower`].
    pub fn lower(&self, low: &[NodeId]) -> Result<Lowered, QuantizeError> {
        Ok(lower(
            &self.base,
            &plan(&self.layers, low, self.options),
            &self.ranges,
            &self.options.lower,
        )?)
    }

    /// The judged outputs of `model` on the validation data.
    ///
    /// # Errors
    /// [`QuantizeError`] from execution.
    pub fn run(&self, model: &Model) -> Result<Vec<ArrayD<f32>>, QuantizeError> {
        let plan = Plan::new(model)?;
        Ok(self
            .outputs
            .run(&plan, self.val, self.options.eval_batch_size)?)
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

    /// The figure of `outputs` with its resolution and 95% interval (for
    /// accuracy metrics, paired with the reference's per-sample hits).
    pub fn judge(&self, outputs: &[ArrayD<f32>]) -> Judged {
        let hits = match &self.reference {
            PerSample::Hits(h) => Some(h.as_slice()),
            PerSample::Fidelity { .. } => None,
        };
        judge(self.metric, &self.figures(outputs), hits)
    }

    /// The lowered model for `low` and its judged figure.
    ///
    /// # Errors
    /// [`QuantizeError`] from lowering or execution.
    pub fn measure_judged(&self, low: &[NodeId]) -> Result<(Lowered, Judged), QuantizeError> {
        let lowered = self.lower(low)?;
        let judged = self.judge(&self.run(&lowered.model)?);
        Ok((lowered, judged))
    }

    /// The lowered model for `low` and its figure on the validation data.
    ///
    /// # Errors
    /// [`QuantizeError`] from lowering or execution.
    pub fn measure(&self, low: &[NodeId]) -> Result<(Lowered, f64), QuantizeError> {
        let lowered = self.lower(low)?;
        let figures = self.figures(&self.run(&lowered.model)?);
        let score = figures.figure(self.metric, &(0..self.val.len).collect::<Vec<_>>());
        Ok((lowered, score))
    }
}

/// `low` at low bits, the other `layers` at high bits.
fn plan(layers: &[NodeId], low: &[NodeId], options: &QuantizeOptions) -> QuantPlan {
    let layers: BTreeMap<NodeId, LayerChoice> = layers
        .iter()
        .map(|&node| {
            let bits = if low.contains(&node) {
                options.low_bits
            } else {
                options.high_bits
            };
            (node, LayerChoice { bits })
        })
        .collect();
    QuantPlan { layers }
}

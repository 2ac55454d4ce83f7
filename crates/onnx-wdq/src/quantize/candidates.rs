//! Measuring a candidate bit assignment: the model is lowered exactly as it
//! will be written (QuantizeLinear/DequantizeLinear with the emitted
//! arithmetic) and run by wdq-exec on the validation data, so a candidate's
//! accuracy is what a runtime measures on the written file.

use super::{percent_equal, predictions, Metric, QuantizeError, QuantizeOptions};
use crate::calibrate::activation_ranges;
use crate::data::Dataset;
use std::collections::BTreeMap;
use wdq_exec::plan::Plan;
use wdq_ir::{weighted_layers, Model, NodeId};
use wdq_lower::{
    activation_points, lower, required_opset, ActivationRanges, LayerChoice, Lowered, QuantPlan,
};

/// A model prepared for candidate evaluation: opset raised for the QDQ
/// types the options need, activations calibrated, reference predictions
/// computed.
pub struct CandidateEvaluator<'a> {
    /// The model the candidates are lowered from (opset converted).
    pub base: Model,
    /// Its weighted layers, in graph order.
    pub layers: Vec<NodeId>,
    /// Accuracy of the float model on the validation data.
    pub fp32_accuracy: f64,
    ranges: ActivationRanges,
    val: &'a Dataset,
    truth: Vec<i64>,
    options: &'a QuantizeOptions,
}

impl<'a> CandidateEvaluator<'a> {
    /// Prepares `model`: raises its opset as the most demanding plan (every
    /// layer at low bits) needs, calibrates activations on `train`.
    ///
    /// # Errors
    /// [`QuantizeError`] from opset conversion, calibration or execution.
    pub fn prepare(
        model: &Model,
        train: &Dataset,
        val: &'a Dataset,
        options: &'a QuantizeOptions,
    ) -> Result<CandidateEvaluator<'a>, QuantizeError> {
        if options.metric == Metric::Top1 && val.labels.is_none() {
            return Err(QuantizeError::NeedsLabels {
                metric: options.metric.name(),
            });
        }
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
        let points = activation_points(&base, &options.lower);
        let ranges = ActivationRanges(activation_ranges(
            &base,
            train,
            &points,
            &options.calibration,
            options.calibration_samples,
            options.eval_batch_size,
        )?);
        let fp32 = predictions(&Plan::new(&base)?, val, options.eval_batch_size)?;
        let truth = match options.metric {
            Metric::Top1 => val.labels.clone().unwrap_or_default(),
            Metric::Agreement => fp32.clone(),
        };
        let fp32_accuracy = percent_equal(&fp32, &truth);
        Ok(CandidateEvaluator {
            base,
            layers,
            fp32_accuracy,
            ranges,
            val,
            truth,
            options,
        })
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

    /// The lowered model for `low` and its accuracy on the validation data.
    ///
    /// # Errors
    /// [`QuantizeError`] from lowering or execution.
    pub fn measure(&self, low: &[NodeId]) -> Result<(Lowered, f64), QuantizeError> {
        let lowered = self.lower(low)?;
        let plan = Plan::new(&lowered.model)?;
        let accuracy = percent_equal(
            &predictions(&plan, self.val, self.options.eval_batch_size)?,
            &self.truth,
        );
        Ok((lowered, accuracy))
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

//! The main command: analyze -> calibrate -> plan (search against the
//! validation set) -> lower -> the second network (steps 1 to 7 of the
//! method). [`quantize`] reads as the pipeline, top to bottom.

mod metric;
mod report;

pub use metric::{percent_equal, predictions, Metric};
pub use report::{CandidateReport, LayerReport, QuantizeReport, Sizes, StageTimes};

use crate::analyze::{analyze, AnalyzeReport};
use crate::calibrate::{activation_ranges, CalibrationError};
use crate::data::Dataset;
use crate::evaluate::EvalError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wdq_exec::plan::Plan;
use wdq_exec::ExecError;
use wdq_ir::{weighted_layers, Model, NodeId};
use wdq_lower::{
    activation_points, lower, required_opset, ActivationRanges, LayerChoice, LowerOptions, Lowered, QuantPlan,
};
use wdq_plan::{search, SearchOptions, Selection};
use wdq_quant::calibrate::CalibrationMethod;
use wdq_train::{Statistic, TrainError, TrainObserver, TrainOptions};

/// What losses are measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reference {
    /// The model as given (fp32).
    Fp32,
    /// The model with every layer at the high bit width.
    High,
}

/// Every option of the main command.
#[derive(Clone, Debug)]
pub struct QuantizeOptions {
    pub train: TrainOptions,
    pub statistic: Statistic,
    pub selection: Selection,
    /// Largest accepted loss, in percentage points.
    pub threshold: f64,
    pub skip_smallest: bool,
    pub time_budget: Option<Duration>,
    pub reference: Reference,
    pub metric: Metric,
    pub low_bits: u8,
    pub high_bits: u8,
    pub lower: LowerOptions,
    pub calibration: CalibrationMethod,
    pub calibration_samples: usize,
    /// Batch size of validation and calibration runs.
    pub eval_batch_size: usize,
}

/// Why the main command failed.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    #[error("fine-tuning: {0}")]
    Train(#[from] TrainError),
    #[error("calibration: {0}")]
    Calibration(#[from] CalibrationError),
    #[error("lowering: {0}")]
    Lower(#[from] wdq_lower::LowerError),
    #[error("opset conversion: {0}")]
    Opset(#[from] wdq_onnx::OnnxError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("evaluation: {0}")]
    Eval(#[from] EvalError),
    #[error("metric {metric} needs labels in the validation data")]
    NeedsLabels { metric: &'static str },
    #[error("--low-bits {low} must be below --high-bits {high}")]
    Bits { low: u8, high: u8 },
}

/// Runs the method on `model`: fine-tune on `train`, rank layers by drift,
/// search on `val`, and lower. Returns the second network and the report.
///
/// # Errors
/// [`QuantizeError`] for any failing stage.
pub fn quantize(
    model: &Model,
    train: &Dataset,
    val: &Dataset,
    options: &QuantizeOptions,
    observer: &mut dyn TrainObserver,
) -> Result<(Model, QuantizeReport), QuantizeError> {
    if options.low_bits >= options.high_bits {
        return Err(QuantizeError::Bits { low: options.low_bits, high: options.high_bits });
    }
    if options.metric == Metric::Top1 && val.labels.is_none() {
        return Err(QuantizeError::NeedsLabels { metric: options.metric.name() });
    }
    let mut times = StageTimes::default();

    // 1-4: fine-tune, drift statistics, order.
    let clock = Instant::now();
    let analysis = analyze(model, train, &options.train, options.statistic, observer)?;
    times.analyze = clock.elapsed().as_secs_f64();

    // The lowered model needs an opset that carries its QDQ types (the most
    // demanding plan is every layer at low bits).
    let mut base = model.clone();
    let every_layer = layer_nodes_in_drift_order(&base, &analysis);
    let all: Vec<usize> = (0..every_layer.len()).collect();
    let need = required_opset(&base, &plan_for(&every_layer, &all, options), &options.lower)?;
    if base.default_opset().unwrap_or(1) < need {
        wdq_onnx::convert_opset(&mut base, need)?;
    }

    // Calibrate activations once, on training samples.
    let clock = Instant::now();
    let points = activation_points(&base, &options.lower);
    let ranges = ActivationRanges(activation_ranges(
        &base,
        train,
        &points,
        &options.calibration,
        options.calibration_samples,
        options.eval_batch_size,
    )?);
    times.calibrate = clock.elapsed().as_secs_f64();

    // 5-6: the reference, then the search over prefixes of the drift order.
    let clock = Instant::now();
    let layer_nodes = layer_nodes_in_drift_order(&base, &analysis);
    let fp32_plan = Plan::new(&base)?;
    let fp32_predictions = predictions(&fp32_plan, val, options.eval_batch_size)?;
    let truth: Vec<i64> = match options.metric {
        Metric::Top1 => val.labels.clone().unwrap_or_default(),
        Metric::Agreement => fp32_predictions.clone(),
    };
    let fp32_accuracy = percent_equal(&fp32_predictions, &truth);
    // Candidates are prefixes of the eligible order (the drift order, less
    // the smallest layer under --skip-smallest), as the search sees it.
    let order: Vec<usize> = (0..layer_nodes.len()).collect();
    let eligible: Vec<usize> = order.iter().copied().skip(usize::from(options.skip_smallest)).collect();
    let candidate = |low: &[usize]| -> Result<(Lowered, f64), QuantizeError> {
        let lowered = lower(&base, &plan_for(&layer_nodes, low, options), &ranges, &options.lower)?;
        let plan = Plan::new(&lowered.model)?;
        let accuracy = percent_equal(&predictions(&plan, val, options.eval_batch_size)?, &truth);
        Ok((lowered, accuracy))
    };
    let all_high_accuracy = candidate(&[])?.1;
    let reference_accuracy = match options.reference {
        Reference::Fp32 => fp32_accuracy,
        Reference::High => all_high_accuracy,
    };
    let scores: Vec<f64> = analysis.layers.iter().map(|l| l.statistic).collect();
    let search_options = SearchOptions {
        selection: options.selection,
        threshold: options.threshold,
        skip_smallest: options.skip_smallest,
        time_budget: options.time_budget,
    };
    let mut evaluate = |m: usize| -> Result<f64, QuantizeError> {
        if m == 0 {
            return Ok(all_high_accuracy);
        }
        candidate(&eligible[..m]).map(|(_, accuracy)| accuracy)
    };
    let outcome = search(&order, &scores, reference_accuracy, &search_options, &mut evaluate)?;
    times.search = clock.elapsed().as_secs_f64();

    // 7: lower the chosen set; when even all-high misses the threshold the
    // all-high model is the best valid one.
    let clock = Instant::now();
    let high_within = reference_accuracy - all_high_accuracy <= options.threshold;
    let chosen: &[usize] = if outcome.met_threshold { &outcome.low_bit } else { &[] };
    let (lowered, final_accuracy) = candidate(chosen)?;
    times.lower = clock.elapsed().as_secs_f64();

    let report = report::build(report::Inputs {
        base: &base,
        analysis: &analysis,
        layer_nodes: &layer_nodes,
        lowered: &lowered,
        outcome: &outcome,
        options,
        fp32_accuracy,
        all_high_accuracy,
        reference_accuracy,
        final_accuracy,
        met_threshold: outcome.met_threshold && (!chosen.is_empty() || high_within),
        times,
    });
    Ok((lowered.model, report))
}

/// The weighted layer node of each analysed layer, in drift order.
fn layer_nodes_in_drift_order(model: &Model, analysis: &AnalyzeReport) -> Vec<NodeId> {
    let layers = weighted_layers(&model.graph);
    analysis
        .layers
        .iter()
        .filter_map(|ranked| {
            layers
                .iter()
                .find(|l| model.graph.node_label(l.node) == ranked.node)
                .map(|l| l.node)
        })
        .collect()
}

/// The layers at indices `low` (into `layer_nodes`) at low bits, the rest
/// at high bits.
fn plan_for(layer_nodes: &[NodeId], low: &[usize], options: &QuantizeOptions) -> QuantPlan {
    let layers: BTreeMap<NodeId, LayerChoice> = layer_nodes
        .iter()
        .enumerate()
        .map(|(i, &node)| {
            let bits = if low.contains(&i) { options.low_bits } else { options.high_bits };
            (node, LayerChoice { bits })
        })
        .collect();
    QuantPlan { layers }
}

//! The main command: analyze -> calibrate -> plan (search against the
//! validation set) -> lower -> the second network (steps 1 to 7 of the
//! method). [`quantize`] reads as the pipeline, top to bottom.

mod candidates;
mod metric;
mod report;

pub use crate::pipeline::Evaluator;
pub use candidates::{raise_opset, CandidateEvaluator, Candidates, ValidationScore};
pub use metric::{percent_equal, predictions, Metric};
pub(crate) use report::build as build_report;
pub use report::{CandidateReport, LayerReport, QuantizeReport, Sizes, StageTimes};

use crate::analyze::Drift;
use crate::calibrate::CalibrationError;
use crate::data::Dataset;
use crate::evaluate::EvalError;
use serde::Serialize;
use std::time::Duration;
use wdq_exec::ExecError;
use wdq_ir::{Model, NodeId};
use wdq_lower::LowerOptions;
use wdq_plan::{search, SearchOptions, SearchOutcome, Selection};
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

impl Default for QuantizeOptions {
    /// The CLI's defaults: bisect within 1 point of fp32 top-1, 4 and 8
    /// bits, per-channel float scales, int32 bias, uint8 min-max activations
    /// calibrated on 512 samples, packed INT4.
    fn default() -> Self {
        QuantizeOptions {
            train: TrainOptions::default(),
            statistic: Statistic::MeanSquare,
            selection: Selection::Bisect,
            threshold: 1.0,
            skip_smallest: false,
            time_budget: None,
            reference: Reference::Fp32,
            metric: Metric::Top1,
            low_bits: 4,
            high_bits: 8,
            lower: LowerOptions::default(),
            calibration: CalibrationMethod::MinMax,
            calibration_samples: 512,
            eval_batch_size: 256,
        }
    }
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
    /// A caller's [`Evaluator`] failed.
    #[error(transparent)]
    Evaluator(Box<dyn std::error::Error + Send + Sync>),
    #[error("metric {metric} needs labels in the validation data")]
    NeedsLabels { metric: &'static str },
    #[error("--low-bits {low} must be below --high-bits {high}")]
    Bits { low: u8, high: u8 },
}

/// Runs the method on `model` with the built-in evaluator (the metric of
/// `options` on `val`): [`crate::pipeline::run`]. Returns the second
/// network and the report.
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
    let mut score = ValidationScore::new(model, val, options)?;
    let quantized = crate::pipeline::run(model, train, options, &mut score, observer)?;
    Ok((quantized.model, quantized.report))
}

/// `--low-bits` must be below `--high-bits`.
pub(crate) fn check_bits(options: &QuantizeOptions) -> Result<(), QuantizeError> {
    if options.low_bits >= options.high_bits {
        return Err(QuantizeError::Bits {
            low: options.low_bits,
            high: options.high_bits,
        });
    }
    Ok(())
}

/// The search stage's result: which units go to low bits, and the
/// accuracies the report needs.
#[derive(Clone, Debug)]
pub struct Searched {
    /// The search over indices of the drift order.
    pub outcome: SearchOutcome,
    /// The units at low bits (empty when no candidate met the threshold:
    /// then the all-high model is the best valid one).
    pub chosen: Vec<NodeId>,
    pub fp32_accuracy: f64,
    pub all_high_accuracy: f64,
    pub reference_accuracy: f64,
    /// The chosen candidate's accuracy: candidates are deterministic, so it
    /// is the written model's.
    pub final_accuracy: f64,
    pub met_threshold: bool,
}

/// Searches prefixes of `drift.order` (less the smallest under
/// `skip_smallest`, which the search applies) for the longest within the
/// threshold, scoring each candidate with `evaluator`.
///
/// # Errors
/// [`QuantizeError`] from lowering or scoring a candidate.
pub fn search_order(
    candidates: &Candidates<'_>,
    drift: &Drift,
    evaluator: &mut dyn Evaluator,
    options: &QuantizeOptions,
) -> Result<Searched, QuantizeError> {
    // The search maximises; a lower-is-better score is searched negated.
    let sign = if evaluator.higher_is_better() {
        1.0
    } else {
        -1.0
    };
    let fp32_accuracy = evaluator.score(&candidates.base)?;
    let all_high_accuracy = evaluator.score(&candidates.lower(&[])?.model)?;
    let reference_accuracy = match options.reference {
        Reference::Fp32 => fp32_accuracy,
        Reference::High => all_high_accuracy,
    };
    let order: Vec<usize> = (0..drift.order.len()).collect();
    let scores: Vec<f64> = drift.order.iter().map(|&n| drift.scores.0[&n]).collect();
    let search_options = SearchOptions {
        selection: options.selection,
        threshold: options.threshold,
        skip_smallest: options.skip_smallest,
        time_budget: options.time_budget,
    };
    let units = |low: &[usize]| -> Vec<NodeId> { low.iter().map(|&i| drift.order[i]).collect() };
    let mut evaluate = |low: &[usize]| -> Result<f64, QuantizeError> {
        if low.is_empty() {
            return Ok(sign * all_high_accuracy);
        }
        Ok(sign * evaluator.score(&candidates.lower(&units(low))?.model)?)
    };
    let mut outcome = search(
        &order,
        &scores,
        sign * reference_accuracy,
        &search_options,
        &mut evaluate,
    )?;
    for c in &mut outcome.candidates {
        c.accuracy *= sign;
    }
    let chosen = if outcome.met_threshold {
        units(&outcome.low_bit)
    } else {
        Vec::new()
    };
    let final_accuracy = outcome
        .candidates
        .iter()
        .find(|c| c.low_bit_layers == chosen.len())
        .map_or(all_high_accuracy, |c| c.accuracy);
    // The search counts "no layer at low bits" as within the threshold
    // without measuring it; the all-high model must meet it too.
    let high_within = sign * (reference_accuracy - all_high_accuracy) <= options.threshold + 1e-9;
    Ok(Searched {
        met_threshold: outcome.met_threshold && (!chosen.is_empty() || high_within),
        outcome,
        chosen,
        fp32_accuracy,
        all_high_accuracy,
        reference_accuracy,
        final_accuracy,
    })
}

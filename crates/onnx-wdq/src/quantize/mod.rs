//! The main command: analyze -> calibrate -> plan (search against the
//! validation set) -> lower -> the second network (steps 1 to 7 of the
//! method). [`quantize`] reads as the pipeline, top to bottom.

mod candidates;
mod evaluator;
mod metric;
mod report;
mod score;

pub use crate::pipeline::Evaluator;
pub use candidates::{prepare, raise_opset, CandidateEvaluator, Candidates};
pub use evaluator::{EvaluatorError, FnEvaluator};
pub use metric::{classes, default_metric, Metric, OutputSet};
pub(crate) use report::build as build_report;
pub use report::{CandidateReport, LayerReport, QuantizeReport, SearchWork, Sizes, StageTimes};
pub use score::{EvalWork, ValidationScore};

use crate::analyze::Drift;
use crate::calibrate::CalibrationError;
use crate::data::Dataset;
use crate::evaluate::EvalError;
use serde::Serialize;
use std::time::Duration;
use wdq_exec::ExecError;
use wdq_ir::{Model, NodeId};
use wdq_lower::LowerOptions;
use wdq_plan::stats::Interval;
use wdq_plan::{search, Goal, Measure, SearchOptions, SearchOutcome, Selection};
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
    /// The threshold in the metric's unit (a loss in points for accuracy
    /// metrics and a caller's evaluator, a bound on the figure for output
    /// fidelity); `None`: the evaluator's default, and direct selections
    /// (`count:N`, `threshold:S`) then never count as missing it.
    pub threshold: Option<f64>,
    /// Accept a candidate only when the pessimistic end of its score's 95%
    /// interval is within the threshold.
    pub guard: bool,
    pub skip_smallest: bool,
    pub time_budget: Option<Duration>,
    pub reference: Reference,
    /// `None`: top-1 with labels and a classifier output, agreement for a
    /// classifier output without labels, SQNR otherwise.
    pub metric: Option<Metric>,
    /// The outputs the metric reads (empty: the first).
    pub metric_outputs: Vec<String>,
    pub low_bits: u8,
    pub high_bits: u8,
    /// The deployment target: its profile fixed `lower`'s choices, and
    /// layers its profile cannot take at `low_bits` are not candidates.
    pub target: wdq_lower::Target,
    pub lower: LowerOptions,
    pub calibration: CalibrationMethod,
    pub calibration_samples: usize,
    /// Batch size of validation and calibration runs.
    pub eval_batch_size: usize,
    /// Let the built-in evaluator stop a candidate's evaluation after the
    /// batch that makes its answer certain (`--full-eval` turns it off).
    pub early_stop: bool,
}

impl Default for QuantizeOptions {
    /// The CLI's defaults: bisect within the metric's default threshold
    /// (1 point of fp32 top-1 on labelled classifier data), 4 and 8
    /// bits, per-channel float scales, int32 bias, uint8 min-max activations
    /// calibrated on 512 samples, packed INT4.
    fn default() -> Self {
        QuantizeOptions {
            train: TrainOptions::default(),
            statistic: Statistic::MeanSquare,
            selection: Selection::Bisect,
            threshold: None,
            guard: false,
            skip_smallest: false,
            time_budget: None,
            reference: Reference::Fp32,
            metric: None,
            metric_outputs: Vec::new(),
            low_bits: 4,
            high_bits: 8,
            target: wdq_lower::Target::default(),
            lower: LowerOptions::default(),
            calibration: CalibrationMethod::MinMax,
            calibration_samples: 512,
            eval_batch_size: 256,
            early_stop: true,
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
    #[error("graph preparation: {0}")]
    Prepare(#[from] wdq_ir::PassError<std::convert::Infallible>),
    #[error("opset conversion: {0}")]
    Opset(#[from] wdq_onnx::OnnxError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("evaluation: {0}")]
    Eval(#[from] EvalError),
    /// A caller's [`Evaluator`] failed.
    #[error(transparent)]
    Evaluator(Box<dyn std::error::Error + Send + Sync>),
    #[error("metric {metric} needs labels in the validation data (without labels use agreement, or sqnr for outputs that are not classes)")]
    NeedsLabels { metric: &'static str },
    #[error(
        "--metric {metric} cannot tell candidates apart on output `{output}`: {why}; use {instead}"
    )]
    VacuousMetric {
        metric: &'static str,
        output: String,
        why: String,
        instead: String,
    },
    #[error("--metric-output `{name}` is not an output of the model (outputs: {outputs})")]
    UnknownOutput { name: String, outputs: String },
    #[error("a caller's evaluator needs a threshold in its score's unit (--threshold), except with --select count:N or threshold:S")]
    ThresholdNeeded,
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
    quantize_with(model, train, val, options, observer, None)
}

/// [`quantize`], with candidates scored by `custom` instead of the
/// built-in metric on `val` when given (`--eval-command`, or a Rust
/// caller's own).
///
/// # Errors
/// [`QuantizeError`] for any failing stage; an evaluator's error stops the
/// search.
pub fn quantize_with(
    model: &Model,
    train: &Dataset,
    val: &Dataset,
    options: &QuantizeOptions,
    observer: &mut dyn TrainObserver,
    custom: Option<&mut dyn Evaluator>,
) -> Result<(Model, QuantizeReport), QuantizeError> {
    let quantized = match custom {
        Some(evaluator) => crate::pipeline::run(model, train, options, evaluator, observer)?,
        None => {
            let mut score = ValidationScore::new(model, val, options)?;
            crate::pipeline::run(model, train, options, &mut score, observer)?
        }
    };
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

/// How the candidates were scored, as the report tells it.
#[derive(Clone, Debug)]
pub struct Scoring {
    pub metric: String,
    pub unit: String,
    pub goal: Goal,
    pub threshold: f64,
    pub threshold_meaning: String,
    pub resolution: Option<f64>,
    pub evaluator_seconds: Option<f64>,
    pub warnings: Vec<String>,
}

/// The search stage's result: which units go to low bits, and the
/// scores the report needs.
#[derive(Clone, Debug)]
pub struct Searched {
    /// The search over indices of the drift order.
    pub outcome: SearchOutcome,
    /// The units at low bits (empty when no candidate met the threshold:
    /// then the all-high model is the best valid one; a direct selection
    /// is written as asked).
    pub chosen: Vec<NodeId>,
    pub fp32_accuracy: f64,
    pub all_high_accuracy: f64,
    pub reference_accuracy: f64,
    /// The chosen candidate's score: candidates are deterministic, so it
    /// is the written model's.
    pub final_accuracy: f64,
    pub final_interval: Option<Interval>,
    pub met_threshold: bool,
    pub scoring: Scoring,
    /// Units the target's profile cannot take at the low bit width, with
    /// the reason: not candidates, kept at the high bit width.
    pub refused: Vec<(NodeId, String)>,
    /// The candidates' validation work, when the evaluator counts it.
    pub work: Option<SearchWork>,
}

/// Searches prefixes of `drift.order` (less the smallest under
/// `skip_smallest`, which the search applies) for the longest within the
/// threshold, scoring each candidate with `evaluator`.
///
/// # Errors
/// [`QuantizeError`] from lowering or scoring a candidate, or a missing
/// threshold for an evaluator without a default.
pub fn search_order(
    candidates: &Candidates<'_>,
    drift: &Drift,
    evaluator: &mut dyn Evaluator,
    options: &QuantizeOptions,
) -> Result<Searched, QuantizeError> {
    let direct = matches!(
        options.selection,
        Selection::Count { .. } | Selection::Threshold { .. }
    );
    let threshold = match (options.threshold, evaluator.default_threshold()) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) if direct => 0.0,
        (None, None) => return Err(QuantizeError::ThresholdNeeded),
    };
    let goal = evaluator.goal();
    let fp32_accuracy = evaluator.score(&candidates.base)?;
    let all_high_model = candidates.lower(&[])?.model;
    if options.reference == Reference::High {
        evaluator.use_reference(&all_high_model)?;
    }
    let all_high = evaluator.measure(&all_high_model)?;
    let reference_accuracy = match options.reference {
        Reference::Fp32 => fp32_accuracy,
        Reference::High => all_high.score,
    };
    let resolution = evaluator.resolution();
    let profile = options.target.profile();
    let refusal =
        |unit: NodeId| profile.refuses(&candidates.base.graph.node(unit).op, options.low_bits);
    let refused: Vec<(NodeId, String)> = drift
        .order
        .iter()
        .filter_map(|&unit| refusal(unit).map(|why| (unit, why)))
        .collect();
    let order: Vec<usize> = (0..drift.order.len())
        .filter(|&i| refusal(drift.order[i]).is_none())
        .collect();
    let scores: Vec<f64> = drift.order.iter().map(|&n| drift.scores.0[&n]).collect();
    let search_options = SearchOptions {
        selection: options.selection,
        threshold,
        goal,
        guard: options.guard,
        skip_smallest: options.skip_smallest,
        time_budget: options.time_budget,
    };
    let units = |low: &[usize]| -> Vec<NodeId> { low.iter().map(|&i| drift.order[i]).collect() };
    let bar = search_options.bar(reference_accuracy);
    let before = evaluator.work();
    let mut evaluate = |low: &[usize]| -> Result<Measure, QuantizeError> {
        if low.is_empty() {
            return Ok(all_high);
        }
        let model = candidates.lower(&units(low))?.model;
        // A direct selection is written whatever its score: measure it whole.
        if direct {
            evaluator.measure(&model)
        } else {
            evaluator.decide(&model, &bar)
        }
    };
    let mut outcome = search(
        &order,
        &scores,
        reference_accuracy,
        &search_options,
        &mut evaluate,
    )?;
    let chosen = if outcome.met_threshold || direct {
        units(&outcome.low_bit)
    } else {
        Vec::new()
    };
    // The written model's figures come from a full run: a chosen candidate
    // whose evaluation stopped early is run to the end (resumed).
    if let Some(c) = outcome
        .candidates
        .iter_mut()
        .find(|c| c.low_bit_layers == chosen.len() && c.stopped_after.is_some())
    {
        let full = evaluator.measure(&candidates.lower(&chosen)?.model)?;
        c.accuracy = full.score;
        c.loss = goal.loss(reference_accuracy, full.score);
        c.interval = full.interval;
        c.stopped_after = None;
    }
    let work = match (before, evaluator.work()) {
        (Some(before), Some(after)) => Some(SearchWork::new(after.since(before), options)),
        _ => None,
    };
    let final_candidate = outcome
        .candidates
        .iter()
        .find(|c| c.low_bit_layers == chosen.len());
    let (final_accuracy, final_interval) = final_candidate
        .map_or((all_high.score, all_high.interval), |c| {
            (c.accuracy, c.interval)
        });
    // The search counts "no layer at low bits" as within the threshold
    // without measuring it; the all-high model must meet it too.
    let high_within = bar.accepts(&all_high);
    let met_threshold = match (direct, final_candidate) {
        (true, _) if options.threshold.is_none() => true,
        (_, Some(c)) => c.within_threshold,
        (_, None) => high_within,
    };
    let threshold_meaning = match goal {
        Goal::Loss | Goal::LossLowerIsBetter if !evaluator.unit().starts_with('%') => format!(
            "loss at most {threshold} ({} is better)",
            if goal == Goal::Loss {
                "higher"
            } else {
                "lower"
            }
        ),
        Goal::Loss => format!("loss at most {threshold} points"),
        Goal::AtMost => format!("{} at most {threshold}", evaluator.metric()),
        _ => format!(
            "{} at least {threshold}{}",
            evaluator.metric(),
            match evaluator.unit().as_str() {
                "dB" => " dB",
                _ => "",
            }
        ),
    };
    let scoring = Scoring {
        metric: evaluator.metric(),
        unit: evaluator.unit(),
        goal,
        threshold,
        threshold_meaning,
        resolution: resolution.or(evaluator.resolution()),
        evaluator_seconds: evaluator.seconds(),
        warnings: evaluator.warnings(threshold, options.guard),
    };
    Ok(Searched {
        met_threshold,
        outcome,
        chosen,
        fp32_accuracy,
        all_high_accuracy: all_high.score,
        reference_accuracy,
        final_accuracy,
        final_interval,
        scoring,
        refused,
        work,
    })
}

//! The main command: analyze -> calibrate -> plan (search against the
//! validation set) -> lower -> the second network (steps 1 to 7 of the
//! method). [`quantize`] reads as the pipeline, top to bottom.

mod candidates;
mod evaluator;
mod metric;
mod report;
mod scoring;

pub use candidates::CandidateEvaluator;
pub use evaluator::{Evaluator, EvaluatorError, FnEvaluator};
pub use metric::{classes, default_metric, Metric, OutputSet};
pub use report::{CandidateReport, LayerReport, QuantizeReport, Sizes, StageTimes};

use crate::analyze::analyze;
use crate::calibrate::CalibrationError;
use crate::data::Dataset;
use crate::evaluate::EvalError;
use serde::Serialize;
use std::time::{Duration, Instant};
use wdq_exec::ExecError;
use wdq_ir::{Model, NodeId};
use wdq_lower::LowerOptions;
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
    /// The threshold in the metric's unit (a loss in points for accuracy
    /// metrics and a caller's evaluator, a bound on the figure for output
    /// fidelity); `None`: the metric's default, and direct selections
    /// (`count:N`, `threshold:S`) then never count as missing it.
    pub threshold: Option<f64>,
    /// Accept a candidate only when its loss's 95% upper bound is within
    /// the threshold.
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
    pub lower: LowerOptions,
    pub calibration: CalibrationMethod,
    pub calibration_samples: usize,
    /// Batch size of validation and calibration runs.
    pub eval_batch_size: usize,
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
    #[error("evaluator: {0}")]
    Evaluator(#[from] EvaluatorError),
    #[error("--low-bits {low} must be below --high-bits {high}")]
    Bits { low: u8, high: u8 },
}

/// Runs the method on `model`: fine-tune on `train`, rank layers by drift,
/// search on `val` with the built-in metric, and lower. Returns the second
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
/// built-in metric when given (`--eval-command`, or a Rust caller's own).
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
    if options.low_bits >= options.high_bits {
        return Err(QuantizeError::Bits {
            low: options.low_bits,
            high: options.high_bits,
        });
    }
    let direct = matches!(
        options.selection,
        Selection::Count { .. } | Selection::Threshold { .. }
    );
    if custom.is_some() && options.threshold.is_none() && !direct {
        return Err(QuantizeError::ThresholdNeeded);
    }
    let mut times = StageTimes::default();

    // 1-4: fine-tune, drift statistics, order.
    let clock = Instant::now();
    let analysis = analyze(model, train, &options.train, options.statistic, observer)?;
    times.analyze = clock.elapsed().as_secs_f64();

    // Calibrate once, and measure the float reference.
    let clock = Instant::now();
    let mut evaluator =
        CandidateEvaluator::prepare_with(model, train, val, options, custom.is_none())?;
    times.calibrate = clock.elapsed().as_secs_f64();

    // 5-6: the search over prefixes of the eligible drift order (less the
    // smallest layer under --skip-smallest).
    let clock = Instant::now();
    let layer_nodes: Vec<NodeId> = analysis
        .layers
        .iter()
        .filter_map(|l| evaluator.layer_by_label(&l.node))
        .collect();
    let order: Vec<usize> = (0..layer_nodes.len()).collect();
    let eligible: Vec<NodeId> = layer_nodes
        .iter()
        .copied()
        .skip(usize::from(options.skip_smallest))
        .collect();
    let mut scorer = scoring::Scorer::new(&mut evaluator, custom, model, options)?;
    let scores: Vec<f64> = analysis.layers.iter().map(|l| l.statistic).collect();
    let search_options = SearchOptions {
        selection: options.selection,
        threshold: scorer.threshold,
        goal: scorer.goal,
        guard: options.guard,
        skip_smallest: options.skip_smallest,
        time_budget: options.time_budget,
    };
    let reference_accuracy = scorer.reference;
    let outcome = search(
        &order,
        &scores,
        reference_accuracy,
        &search_options,
        &mut |m: usize| scorer.measure(&eligible[..m]),
    )?;
    times.search = clock.elapsed().as_secs_f64();

    // 7: lower the chosen set. A direct selection writes what was asked;
    // a search that found nothing within the threshold writes all-high.
    let clock = Instant::now();
    let chosen: Vec<NodeId> = if outcome.met_threshold || direct {
        outcome.low_bit.iter().map(|&i| layer_nodes[i]).collect()
    } else {
        Vec::new()
    };
    // Candidates are deterministic, so the chosen one's measured figure is
    // the written model's: lower it again without a second evaluation.
    let lowered = scorer.evaluator.lower(&chosen)?;
    let final_candidate = outcome
        .candidates
        .iter()
        .find(|c| c.low_bit_layers == chosen.len());
    let high_within = scorer.all_high_within(options.guard);
    let met_threshold = match (direct, final_candidate) {
        (true, _) if options.threshold.is_none() => true,
        (_, Some(c)) => c.within_threshold,
        (_, None) => high_within,
    };
    times.lower = clock.elapsed().as_secs_f64();

    let report = report::build(report::Inputs {
        base: &scorer.evaluator.base,
        analysis: &analysis,
        layer_nodes: &layer_nodes,
        lowered: &lowered,
        outcome: &outcome,
        options,
        scoring: scorer.summary(),
        final_candidate,
        met_threshold,
        times,
    });
    Ok((lowered.model, report))
}

//! The main command: analyze -> calibrate -> plan (search against the
//! validation set) -> lower -> the second network (steps 1 to 7 of the
//! method). [`quantize`] reads as the pipeline, top to bottom.

mod candidates;
mod metric;
mod report;

pub use candidates::CandidateEvaluator;
pub use metric::{percent_equal, predictions, Metric};
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
        return Err(QuantizeError::Bits {
            low: options.low_bits,
            high: options.high_bits,
        });
    }
    let mut times = StageTimes::default();

    // 1-4: fine-tune, drift statistics, order.
    let clock = Instant::now();
    let analysis = analyze(model, train, &options.train, options.statistic, observer)?;
    times.analyze = clock.elapsed().as_secs_f64();

    // Calibrate once, and measure the float reference.
    let clock = Instant::now();
    let evaluator = CandidateEvaluator::prepare(model, train, val, options)?;
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
    let fp32_accuracy = evaluator.fp32_accuracy;
    let all_high_accuracy = evaluator.measure(&[])?.1;
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
        evaluator
            .measure(&eligible[..m])
            .map(|(_, accuracy)| accuracy)
    };
    let outcome = search(
        &order,
        &scores,
        reference_accuracy,
        &search_options,
        &mut evaluate,
    )?;
    times.search = clock.elapsed().as_secs_f64();

    // 7: lower the chosen set; when even all-high misses the threshold the
    // all-high model is the best valid one.
    let clock = Instant::now();
    let high_within = reference_accuracy - all_high_accuracy <= options.threshold + 1e-9;
    let chosen: Vec<NodeId> = if outcome.met_threshold {
        outcome.low_bit.iter().map(|&i| layer_nodes[i]).collect()
    } else {
        Vec::new()
    };
    // Candidates are deterministic, so the chosen one's measured accuracy is
    // the written model's: lower it again without a second evaluation.
    let lowered = evaluator.lower(&chosen)?;
    let final_accuracy = outcome
        .candidates
        .iter()
        .find(|c| c.low_bit_layers == chosen.len())
        .map_or(all_high_accuracy, |c| c.accuracy);
    times.lower = clock.elapsed().as_secs_f64();

    let report = report::build(report::Inputs {
        base: &evaluator.base,
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

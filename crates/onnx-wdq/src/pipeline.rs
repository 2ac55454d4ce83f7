//! The method on one screen. [`run`] reads as the design:
//!
//! ```text
//! import (load, fold constants) -> prepare (opset, fold BatchNorm) -> train (drift side table) -> calibrate -> search -> lower -> annotate, report
//! ```
//!
//! Each stage is a typed value handed to the next: the prepared
//! [`Model`] (opset raised, BatchNorm folded into its layers) (its node ids stay valid to the end), the [`Drift`] side table
//! keyed by those ids, the calibrated [`Candidates`], the [`Searched`]
//! choice, the [`Lowered`](wdq_lower::Lowered) model and the
//! [`QuantizeReport`]. Candidates are judged by an [`Evaluator`]: the CLI's
//! is [`ValidationScore`](crate::quantize::ValidationScore); a Rust caller
//! can bring its own and gets the same report the CLI writes.

use crate::analyze::{drift, Drift};
use crate::annotate::annotate;
use crate::data::Dataset;
use crate::quantize::{
    build_report, check_bits, prepare, search_order, Candidates, EvalWork, QuantizeError,
    QuantizeOptions, QuantizeReport, Searched, StageTimes,
};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wdq_exec::fold::{FoldConstants, FoldError};
use wdq_ir::{run_passes, Model, PassError, WeightsNotInputs};
use wdq_plan::{Bar, Goal, Measure};
use wdq_train::TrainObserver;

/// Judges a model: the float reference and every candidate of the search.
/// Scores are compared with the options' threshold (in the score's units).
pub trait Evaluator {
    /// The score of `model` (e.g. top-1 in percent on held-out data).
    ///
    /// # Errors
    /// Whatever keeps the score from being computed; wrap a foreign error
    /// in [`QuantizeError::Evaluator`].
    fn score(&mut self, model: &Model) -> Result<f64, QuantizeError>;

    /// Whether a larger score is better (accuracy) rather than worse (a
    /// loss or an error rate).
    fn higher_is_better(&self) -> bool {
        true
    }

    /// The metric's name, for the report.
    fn metric(&self) -> String;

    /// The score of `model` with its 95% interval when the evaluator knows
    /// one (`--guard` judges its pessimistic end).
    ///
    /// # Errors
    /// As [`Evaluator::score`].
    fn measure(&mut self, model: &Model) -> Result<Measure, QuantizeError> {
        Ok(self.score(model)?.into())
    }

    /// What the threshold bounds: by default a loss against the reference
    /// in the score's unit.
    fn goal(&self) -> Goal {
        if self.higher_is_better() {
            Goal::Loss
        } else {
            Goal::LossLowerIsBetter
        }
    }

    /// The threshold when the options give none (None: one is required,
    /// except for direct selections).
    fn default_threshold(&self) -> Option<f64> {
        None
    }

    /// The unit of the scores, for the report.
    fn unit(&self) -> String {
        "the evaluator's".to_string()
    }

    /// Makes `model` (the all-high model, `--reference high`) what
    /// candidates are compared with, for evaluators that compare outputs.
    ///
    /// # Errors
    /// As [`Evaluator::score`].
    fn use_reference(&mut self, _model: &Model) -> Result<(), QuantizeError> {
        Ok(())
    }

    /// What one sample changes, in the score's unit, if known.
    fn resolution(&self) -> Option<f64> {
        None
    }

    /// Caveats about what the evaluator's data can resolve at `threshold`.
    fn warnings(&self, _threshold: f64, _guard: bool) -> Vec<String> {
        Vec::new()
    }

    /// The score of `model`, or only its answer to `bar` when the
    /// evaluator can tell it before every sample is run (then the measure
    /// says [`wdq_plan::Stopped`]). Default: [`Evaluator::measure`].
    ///
    /// # Errors
    /// As [`Evaluator::score`].
    fn decide(&mut self, model: &Model, _bar: &Bar) -> Result<Measure, QuantizeError> {
        self.measure(model)
    }

    /// The validation work done so far, when the evaluator counts it.
    fn work(&self) -> Option<EvalWork> {
        None
    }

    /// Seconds spent in an external evaluator, for the report.
    fn seconds(&self) -> Option<f64> {
        None
    }
}

/// The pipeline's result: the second network and its report.
#[derive(Clone, Debug)]
pub struct Quantized {
    pub model: Model,
    pub report: QuantizeReport,
}

/// Why a model could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Onnx(#[from] wdq_onnx::OnnxError),
    #[error(transparent)]
    Pass(#[from] Box<PassError<FoldError>>),
    #[error(transparent)]
    Inputs(#[from] Box<PassError<std::convert::Infallible>>),
}

/// The import stage: loads an ONNX model, makes initializers listed as
/// graph inputs (IR 3) weights, and folds its constant sub-graphs, so that
/// a weight computed by `ConstantOfShape` or by a
/// `Constant -> Cast -> Reshape -> Transpose` chain is an initializer the
/// layer discovery finds.
///
/// # Errors
/// [`ImportError`] naming the file, or the pass and node that failed.
pub fn import(path: &Path) -> Result<Model, ImportError> {
    import_and_files(path).map(|(model, _)| model)
}

/// [`import`], and the external data files the model names (inputs that
/// no output may overwrite: [`wdq_onnx::load_model_and_files`]).
///
/// # Errors
/// As [`import`].
pub fn import_and_files(path: &Path) -> Result<(Model, Vec<PathBuf>), ImportError> {
    let (mut model, files) = wdq_onnx::load_model_and_files(path)?;
    run_passes(&mut model, &mut [&mut WeightsNotInputs::default()]).map_err(Box::new)?;
    run_passes(&mut model, &mut [&mut FoldConstants::default()]).map_err(Box::new)?;
    Ok((model, files))
}

/// Runs the method on `model`: fine-tune on `train` to rank the units,
/// search for the low-bit set with `evaluator`, lower.
///
/// # Errors
/// [`QuantizeError`] for any failing stage.
pub fn run(
    model: &Model,
    train: &Dataset,
    options: &QuantizeOptions,
    evaluator: &mut dyn Evaluator,
    observer: &mut dyn TrainObserver,
) -> Result<Quantized, QuantizeError> {
    check_bits(options)?;
    let mut times = StageTimes::default();
    let clock = Instant::now();
    let base: Model = prepare(model, options)?;
    let drift: Drift = drift(&base, train, &options.train, options.statistic, observer)?;
    times.analyze = lap(clock);
    let clock = Instant::now();
    let candidates: Candidates = Candidates::calibrate(&base, train, options)?;
    times.calibrate = lap(clock);
    let clock = Instant::now();
    let searched: Searched = search_order(&candidates, &drift, evaluator, options)?;
    times.search = lap(clock);
    let clock = Instant::now();
    let mut lowered = candidates.lower(&searched.chosen)?;
    times.lower = lap(clock);
    let report = build_report(&base, &drift, &searched, &lowered, options, times);
    annotate(&mut lowered, &drift, &report, options);
    Ok(Quantized {
        model: lowered.model,
        report,
    })
}

impl Quantized {
    /// Encodes the model for writing and completes the report: the
    /// encoded sizes of `original` and of the output, and the export time.
    /// The caller writes the bytes (with the report, so that both land or
    /// neither does: see [`crate::files::commit`]).
    ///
    /// # Errors
    /// [`wdq_onnx::OnnxError`] from encoding.
    pub fn encode(&mut self, original: &Model) -> Result<Vec<u8>, wdq_onnx::OnnxError> {
        let clock = Instant::now();
        self.report.sizes.file_before = wdq_onnx::encode_model(original)?.len();
        let bytes = wdq_onnx::encode_model(&self.model)?;
        self.report.sizes.file_after = bytes.len();
        self.report.seconds.export = lap(clock);
        Ok(bytes)
    }
}

fn lap(clock: Instant) -> f64 {
    clock.elapsed().as_secs_f64()
}

//! A caller's own evaluator: the search asks it for one score per
//! candidate model (the model as it would be written), the way
//! model-compilation flows plug in task metrics (mAP, WER, F1). The
//! threshold is then a loss in the score's unit against the reference
//! model's score.

use wdq_ir::Model;

/// Why an evaluator could not score a model. Stops the search.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct EvaluatorError {
    pub message: String,
    /// The exit code of an evaluator that is a process, if it exited.
    pub exit_code: Option<i32>,
}

impl EvaluatorError {
    pub fn new(message: impl Into<String>) -> EvaluatorError {
        EvaluatorError {
            message: message.into(),
            exit_code: None,
        }
    }
}

/// Scores candidate models.
pub trait Evaluator {
    /// What the score is, for the report (e.g. `score of eval.py`).
    fn name(&self) -> String;
    /// Whether higher scores are better.
    fn higher_is_better(&self) -> bool;
    /// Scores `model`.
    ///
    /// # Errors
    /// [`EvaluatorError`], which stops the search.
    fn score(&mut self, model: &Model) -> Result<f64, EvaluatorError>;
    /// Seconds spent scoring so far (for the report).
    fn seconds(&self) -> f64 {
        0.0
    }
}

/// An [`Evaluator`] made of a closure.
pub struct FnEvaluator<F> {
    pub name: String,
    pub higher_is_better: bool,
    pub score: F,
}

impl<F: FnMut(&Model) -> Result<f64, EvaluatorError>> Evaluator for FnEvaluator<F> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn higher_is_better(&self) -> bool {
        self.higher_is_better
    }

    fn score(&mut self, model: &Model) -> Result<f64, EvaluatorError> {
        (self.score)(model)
    }
}

//! What a caller's own [`Evaluator`] may fail with, and an evaluator made
//! of a closure: the way model-compilation flows plug in task metrics
//! (mAP, WER, F1). The threshold is then a loss in the score's unit
//! against the reference model's score.

use super::{Evaluator, QuantizeError};
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

impl From<EvaluatorError> for QuantizeError {
    fn from(e: EvaluatorError) -> QuantizeError {
        QuantizeError::Evaluator(Box::new(e))
    }
}

/// An [`Evaluator`] made of a closure.
pub struct FnEvaluator<F> {
    pub name: String,
    pub higher_is_better: bool,
    pub score: F,
}

impl<F: FnMut(&Model) -> Result<f64, EvaluatorError>> Evaluator for FnEvaluator<F> {
    fn score(&mut self, model: &Model) -> Result<f64, QuantizeError> {
        Ok((self.score)(model)?)
    }

    fn higher_is_better(&self) -> bool {
        self.higher_is_better
    }

    fn metric(&self) -> String {
        self.name.clone()
    }
}

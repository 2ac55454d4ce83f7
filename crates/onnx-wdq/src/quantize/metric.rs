//! The accuracy metric a candidate is judged by: top-1 against labels, or,
//! without labels, top-1 agreement with the reference model's predictions.

use crate::data::Dataset;
use crate::evaluate::{argmax_rows, run_batches, EvalError};
use serde::Serialize;
use wdq_exec::plan::Plan;

/// Which metric judges a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Top-1 accuracy against the validation labels.
    Top1,
    /// Top-1 agreement with the reference model's predictions.
    Agreement,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Top1 => "top-1",
            Metric::Agreement => "top-1 agreement",
        }
    }
}

/// Argmax of the first output for every sample of `data`.
///
/// # Errors
/// [`EvalError`] when the model fails or its first output is not `[N, C]`.
pub fn predictions(plan: &Plan, data: &Dataset, batch_size: usize) -> Result<Vec<i64>, EvalError> {
    let outputs = run_batches(plan, data, batch_size)?;
    let first = &outputs[0];
    if first.ndim() != 2 {
        return Err(EvalError::NotClassifier {
            name: plan.output_names()[0].to_string(),
            shape: first.shape().to_vec(),
        });
    }
    Ok(argmax_rows(first))
}

/// Percentage of `predicted` equal to `truth`.
pub fn percent_equal(predicted: &[i64], truth: &[i64]) -> f64 {
    let same = predicted.iter().zip(truth).filter(|(a, b)| a == b).count();
    100.0 * same as f64 / truth.len().max(1) as f64
}

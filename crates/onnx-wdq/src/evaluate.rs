//! `eval`: runs a model over a dataset in batches and measures top-1
//! accuracy against labels, or summarises the outputs when there are none.

use crate::data::Dataset;
use ndarray::{ArrayD, Axis};
use serde::Serialize;
use wdq_exec::plan::Plan;
use wdq_exec::{ExecError, TensorValue};

/// The outcome of running a model over a dataset.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub samples: usize,
    /// Top-1 accuracy in percent, when labels are present.
    pub top1_percent: Option<f64>,
    pub correct: Option<usize>,
    /// Argmax over the last axis of the first output, per sample.
    pub predictions: Vec<i64>,
    pub outputs: Vec<OutputStats>,
    pub seconds: f64,
}

/// Statistics of one graph output over all samples.
#[derive(Clone, Debug, Serialize)]
pub struct OutputStats {
    pub name: String,
    pub shape: Vec<usize>,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

/// Why an output cannot be summarised or classified.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("output `{name}` is {dtype}, expected a float tensor with samples on axis 0")]
    OutputType { name: String, dtype: String },
    #[error("labels need a classifier output of shape [N, classes]; `{name}` has shape {shape:?}")]
    NotClassifier { name: String, shape: Vec<usize> },
}

/// Runs `plan` over `data` in batches of `batch_size` and returns the
/// concatenated outputs (one array per graph output, the batches joined
/// along the output's batch axis: [`Dataset::output_axes`]).
///
/// # Errors
/// [`EvalError`] when execution fails or an output is not a float tensor.
pub fn run_batches(
    plan: &Plan,
    data: &Dataset,
    batch_size: usize,
) -> Result<Vec<ArrayD<f32>>, EvalError> {
    let mut chunks: Vec<Vec<ArrayD<f32>>> = vec![Vec::new(); plan.output_names().len()];
    let mut start = 0;
    while start < data.len {
        let end = (start + batch_size.max(1)).min(data.len);
        for (i, out) in run_batch(plan, data, start, end)?.into_iter().enumerate() {
            chunks[i].push(out);
        }
        start = end;
    }
    Ok(chunks
        .iter()
        .enumerate()
        .map(|(i, parts)| concat_samples(parts, data.output_axes.get(i).copied().unwrap_or(0)))
        .collect())
}

/// Runs `plan` on samples `start..end` of `data`: one array per graph
/// output. [`run_batches`] is this over consecutive batches, so a caller
/// that runs the same batches one by one gets the same numbers.
///
/// # Errors
/// [`EvalError`] when execution fails or an output is not a float tensor.
pub fn run_batch(
    plan: &Plan,
    data: &Dataset,
    start: usize,
    end: usize,
) -> Result<Vec<ArrayD<f32>>, EvalError> {
    let names = plan.output_names();
    plan.run(&data.batch(start, end))?
        .into_iter()
        .enumerate()
        .map(|(i, out)| match out {
            TensorValue::F32(a) => Ok(a),
            other => Err(EvalError::OutputType {
                name: names[i].to_string(),
                dtype: other.dtype().to_string(),
            }),
        })
        .collect()
}

/// Batches' outputs joined along the output's batch axis
/// ([`Dataset::output_axes`]; empty: a 0-element array).
pub fn concat_samples(parts: &[ArrayD<f32>], axis: usize) -> ArrayD<f32> {
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    ndarray::concatenate(Axis(axis), &views).unwrap_or_else(|_| ArrayD::zeros(vec![0]))
}

/// Evaluates `plan` on `data`: top-1 against labels when present. Returns
/// the evaluation and the concatenated outputs.
///
/// # Errors
/// [`EvalError`] when execution fails, or labels are given but the first
/// output is not `[N, classes]`.
pub fn evaluate(
    plan: &Plan,
    data: &Dataset,
    batch_size: usize,
) -> Result<(Evaluation, Vec<ArrayD<f32>>), EvalError> {
    let started = std::time::Instant::now();
    let outputs = run_batches(plan, data, batch_size)?;
    let names = plan.output_names();
    let first = &outputs[0];
    let predictions = if first.ndim() == 2 {
        argmax_rows(first)
    } else {
        Vec::new()
    };
    let (top1_percent, correct) = match &data.labels {
        Some(labels) => {
            if first.ndim() != 2 {
                return Err(EvalError::NotClassifier {
                    name: names[0].to_string(),
                    shape: first.shape().to_vec(),
                });
            }
            let correct = predictions
                .iter()
                .zip(labels)
                .filter(|(p, l)| p == l)
                .count();
            (
                Some(100.0 * correct as f64 / data.len.max(1) as f64),
                Some(correct),
            )
        }
        None => (None, None),
    };
    let stats = outputs
        .iter()
        .zip(&names)
        .map(|(a, n)| output_stats(n, a))
        .collect();
    let evaluation = Evaluation {
        samples: data.len,
        top1_percent,
        correct,
        predictions,
        outputs: stats,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((evaluation, outputs))
}

/// Index of the first maximum of each row (numpy's argmax tie rule).
pub fn argmax_rows(logits: &ArrayD<f32>) -> Vec<i64> {
    logits
        .outer_iter()
        .map(|row| {
            let mut best = 0;
            for (i, &x) in row.iter().enumerate() {
                if x > row[best] || (row[best].is_nan() && !x.is_nan()) {
                    best = i;
                }
            }
            best as i64
        })
        .collect()
}

fn output_stats(name: &str, a: &ArrayD<f32>) -> OutputStats {
    let n = a.len().max(1) as f64;
    let mean = a.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    OutputStats {
        name: name.to_string(),
        shape: a.shape().to_vec(),
        min: a.iter().fold(f64::INFINITY, |m, &x| m.min(x as f64)),
        max: a.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64)),
        mean,
        std: var.sqrt(),
    }
}

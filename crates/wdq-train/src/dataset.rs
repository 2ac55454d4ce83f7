//! Samples in memory: the project's one dataset type. Fine-tuning reads
//! it; onnx-wdq loads it from `.npz`/`.npy` files, checks it against the
//! model and evaluates on it.
//!
//! Invariant: every batched input holds `len` samples along its batch
//! axis, and so do the labels; a fixed input (no batch axis) is one value
//! fed whole with every batch.

use crate::batches::gather_along;
use wdq_exec::TensorValue;

/// Inputs for a model, and labels when the data is labelled (otherwise the
/// original model is the teacher: see [`crate::LabelFree`]).
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// (graph input name, array).
    pub inputs: Vec<(String, TensorValue)>,
    /// Where each input's samples lie, parallel to `inputs` (`None`: a
    /// fixed input, fed whole with every batch). An input past the end has
    /// its samples on axis 0.
    pub batch_axes: Vec<Option<usize>>,
    /// The batch axis of each graph output, in graph order (where the
    /// outputs of several batches are joined).
    pub output_axes: Vec<usize>,
    pub labels: Option<Vec<i64>>,
    pub len: usize,
}

/// A train/validation split that would leave a part empty.
#[derive(Debug, thiserror::Error)]
#[error("a validation fraction of {fraction} of {samples} samples leaves the training or the validation part empty")]
pub struct SplitError {
    pub fraction: f64,
    pub samples: usize,
}

impl Dataset {
    /// Inputs with their samples on axis 0 (outputs too).
    pub fn samples_first(inputs: Vec<(String, TensorValue)>, labels: Option<Vec<i64>>) -> Dataset {
        let len = inputs
            .first()
            .map_or(0, |(_, v)| v.shape().first().copied().unwrap_or(0));
        Dataset {
            batch_axes: vec![Some(0); inputs.len()],
            inputs,
            output_axes: Vec::new(),
            labels,
            len,
        }
    }

    /// The batch axis of input `i`.
    pub fn axis(&self, i: usize) -> Option<usize> {
        self.batch_axes.get(i).copied().unwrap_or(Some(0))
    }

    /// The batch of samples `indices`: every input cut along its own batch
    /// axis, fixed inputs whole.
    pub fn gather(&self, indices: &[usize]) -> Vec<(&str, TensorValue)> {
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, (name, value))| (name.as_str(), gather_along(value, self.axis(i), indices)))
            .collect()
    }

    /// Samples `start..end` of every input, as owned arrays.
    pub fn batch(&self, start: usize, end: usize) -> Vec<(&str, TensorValue)> {
        let indices: Vec<usize> = (start..end).collect();
        self.gather(&indices)
    }

    /// Names of the fixed inputs with their values.
    pub fn fixed_inputs(&self) -> Vec<(String, TensorValue)> {
        self.inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| self.axis(*i).is_none())
            .map(|(_, (n, v))| (n.clone(), v.clone()))
            .collect()
    }

    /// Splits into (train, validation) with a seeded random `val_fraction`
    /// of the samples held out (each part keeps the original sample order).
    ///
    /// # Errors
    /// [`SplitError`] when the fraction leaves either part empty.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Result<(Dataset, Dataset), SplitError> {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let held = (self.len as f64 * val_fraction).round() as usize;
        if !(0.0..1.0).contains(&val_fraction) || held == 0 || held >= self.len {
            return Err(SplitError {
                fraction: val_fraction,
                samples: self.len,
            });
        }
        let mut order: Vec<usize> = (0..self.len).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let (mut val, mut train) = (order[..held].to_vec(), order[held..].to_vec());
        val.sort_unstable();
        train.sort_unstable();
        Ok((self.select(&train), self.select(&val)))
    }

    /// The samples `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            inputs: self
                .inputs
                .iter()
                .enumerate()
                .map(|(i, (n, v))| (n.clone(), gather_along(v, self.axis(i), indices)))
                .collect(),
            batch_axes: self.batch_axes.clone(),
            output_axes: self.output_axes.clone(),
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
            len: indices.len(),
        }
    }
}

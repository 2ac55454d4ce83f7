//! Datasets: `.npz` (or `.npy`) files whose arrays are keyed by graph input
//! name, plus an optional `labels` array of class indices.
//!
//! Invariant of [`Dataset`]: every batched input holds `len` samples along
//! its batch axis, and so do the labels; a fixed input (no batch axis) is
//! one value fed whole with every batch (see [`crate::layout`]).

use crate::layout::{self, BatchAxisOption, LayoutError};
use crate::npy::NpyError;
pub use crate::npz::save_npz;
use std::path::{Path, PathBuf};
use wdq_exec::TensorValue;
use wdq_train::gather_along;

/// Key of the optional label array.
pub const LABELS_KEY: &str = "labels";

/// What is wrong with a data file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable .npz archive: {source}")]
    Npz {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("{path}: not a readable .npy array: {source}")]
    Npy { path: PathBuf, source: NpyError },
    #[error("{path}: array `{key}`: {source}")]
    Entry {
        path: PathBuf,
        key: String,
        source: NpyError,
    },
    #[error("{path}: entry `{entry}` is not a .npy array; an .npz holds only `NAME.npy` entries")]
    NotNpy { path: PathBuf, entry: String },
    #[error("{path}: array `{key}` appears twice")]
    DuplicateKey { path: PathBuf, key: String },
    #[error("{path}: the arrays hold no samples (the first dimension is 0); give at least one")]
    Empty { path: PathBuf },
    #[error("{path}: model input `{input}` is declared {declared} but the array has shape {got:?} (axis {axis}); give data of the declared shape")]
    InputShape {
        path: PathBuf,
        input: String,
        declared: String,
        got: Vec<usize>,
        /// The axis that differs and the input's role (batched or fixed).
        axis: String,
    },
    #[error("{path}: no array for model input `{input}` (arrays: {available})")]
    MissingInput {
        path: PathBuf,
        input: String,
        available: String,
    },
    #[error("{path}: array `{key}` has {got} samples along {axis} but `{first}` has {expected}; every batched input needs the same number of samples along its batch axis (see --batch-axis)")]
    SampleCount {
        path: PathBuf,
        key: String,
        axis: String,
        got: usize,
        first: String,
        expected: usize,
    },
    #[error("{path}: `labels` must be a 1-D array of class indices, got shape {shape:?}")]
    Labels { path: PathBuf, shape: Vec<usize> },
    #[error("{path}: `labels` must hold integer class indices (int64, int32 or uint8), not {dtype}; convert them with labels.astype('int64')")]
    LabelType { path: PathBuf, dtype: String },
    #[error("{path}: array `{key}` has shape {got:?}, which has no axis {axis} to hold its samples; give the input with its batch axis, or set it with --batch-axis {key}=AXIS (or {key}=fixed for one value fed with every batch)")]
    NoBatchAxis {
        path: PathBuf,
        key: String,
        axis: usize,
        got: Vec<usize>,
    },
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{path}: label {label} of sample {sample} is outside the model's {classes} classes")]
    LabelRange {
        path: PathBuf,
        sample: usize,
        label: i64,
        classes: usize,
    },
    #[error("{path}: array `{key}` holds NaN or infinity (sample {sample}); clean the data (the model was not run)")]
    NonFinite {
        path: PathBuf,
        key: String,
        sample: usize,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A train/validation split that would leave a part empty.
#[derive(Debug, thiserror::Error)]
#[error("a validation fraction of {fraction} of {samples} samples leaves the training or the validation part empty")]
pub struct SplitError {
    pub fraction: f64,
    pub samples: usize,
}

/// Inputs for a model, and labels when the data is labelled.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// (graph input name, array).
    pub inputs: Vec<(String, TensorValue)>,
    /// Where each input's samples lie, parallel to `inputs` (`None`: a
    /// fixed input, fed whole with every batch).
    pub batch_axes: Vec<Option<usize>>,
    /// The batch axis of each graph output, in graph order (where the
    /// outputs of several batches are joined).
    pub output_axes: Vec<usize>,
    pub labels: Option<Vec<i64>>,
    pub len: usize,
}

impl Dataset {
    /// The borrowed view fine-tuning reads.
    pub fn train_data(&self) -> wdq_train::TrainData<'_> {
        wdq_train::TrainData {
            inputs: &self.inputs,
            batch_axes: &self.batch_axes,
            labels: self.labels.as_deref(),
            len: self.len,
        }
    }

    /// Loads `path` with every input's samples on axis 0, for a model whose
    /// graph inputs (without defaults) are `input_names`. An `.npz` needs
    /// one array per input name, except that a single-input model accepts a
    /// single non-label array of any name. A `.npy` file is the single
    /// input's array.
    ///
    /// # Errors
    /// [`DataError`] naming the file and the array at fault.
    pub fn load(path: &Path, input_names: &[String]) -> Result<Dataset, DataError> {
        let decided = vec![Some(Some(0)); input_names.len()];
        Self::assemble(path, input_names, &decided, None)
    }

    /// Loads `path` for `model` (as [`Dataset::load`]), each input's batch
    /// axis decided by `options` (`--batch-axis`), the model's declared
    /// shapes and the arrays (see [`crate::layout`]).
    ///
    /// # Errors
    /// [`DataError`] naming the file, the array, the axis and what was
    /// expected; [`DataError::Layout`] for an option that does not fit.
    pub fn load_for(
        path: &Path,
        model: &wdq_ir::Model,
        options: &[BatchAxisOption],
    ) -> Result<Dataset, DataError> {
        let names = crate::required_inputs(model);
        let decided = layout::decide(model, &names, options)?;
        Self::assemble(path, &names, &decided, Some(model))
    }

    fn assemble(
        path: &Path,
        input_names: &[String],
        decided: &[layout::Decided],
        model: Option<&wdq_ir::Model>,
    ) -> Result<Dataset, DataError> {
        let arrays = crate::npz::read_arrays(path)?;
        let mut labels = None;
        let mut others = Vec::new();
        for (key, value) in arrays {
            if key == LABELS_KEY {
                labels = Some(labels_from(path, value)?);
            } else {
                others.push((key, value));
            }
        }
        let mut inputs = Vec::new();
        for name in input_names {
            let pos = others.iter().position(|(k, _)| k == name);
            let pos = match pos {
                Some(p) => p,
                None if input_names.len() == 1 && others.len() == 1 => 0,
                None => {
                    return Err(DataError::MissingInput {
                        path: path.to_path_buf(),
                        input: name.clone(),
                        available: others
                            .iter()
                            .map(|(k, _)| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            };
            let (_, value) = others.swap_remove(pos);
            inputs.push((name.clone(), value));
        }
        let samples_along = |i: usize, axis: usize| -> Result<usize, DataError> {
            let (key, value) = &inputs[i];
            value
                .shape()
                .get(axis)
                .copied()
                .ok_or_else(|| DataError::NoBatchAxis {
                    path: path.to_path_buf(),
                    key: key.clone(),
                    axis,
                    got: value.shape().to_vec(),
                })
        };
        let first_decided = decided
            .iter()
            .enumerate()
            .find_map(|(i, d)| d.flatten().map(|a| (i, a)));
        let known = first_decided
            .map(|(i, a)| samples_along(i, a))
            .transpose()?;
        let batch_axes: Vec<Option<usize>> = decided
            .iter()
            .zip(&inputs)
            .map(|(d, (name, value))| match d {
                Some(axis) => *axis,
                None => {
                    let declared = model.and_then(|m| layout::declared_shape(m, name));
                    (!layout::looks_fixed(declared, value.shape(), known)).then_some(0)
                }
            })
            .collect();
        let batched = batch_axes
            .iter()
            .enumerate()
            .find_map(|(i, a)| a.map(|a| (i, a)));
        let (first, len) = match batched {
            Some((i, axis)) => (inputs[i].0.clone(), samples_along(i, axis)?),
            None if inputs.is_empty() => {
                (LABELS_KEY.to_string(), labels.as_ref().map_or(0, Vec::len))
            }
            None => (inputs[0].0.clone(), labels.as_ref().map_or(1, Vec::len)),
        };
        for (i, axis) in batch_axes.iter().enumerate() {
            if let Some(axis) = *axis {
                let got = samples_along(i, axis)?;
                check_count(
                    path,
                    &inputs[i].0,
                    &format!("axis {axis}"),
                    got,
                    &first,
                    len,
                )?;
            }
        }
        if len == 0 && !(inputs.is_empty() && labels.is_none()) {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        if let Some(l) = &labels {
            check_count(path, LABELS_KEY, "axis 0", l.len(), &first, len)?;
        }
        let batch = model.and_then(|m| layout::batch_name(m, input_names));
        Ok(Dataset {
            inputs,
            batch_axes,
            output_axes: model.map_or_else(Vec::new, |m| layout::output_axes(m, batch.as_deref())),
            labels,
            len,
        })
    }

    /// Names of the fixed inputs with their values.
    pub fn fixed_inputs(&self) -> Vec<(String, TensorValue)> {
        self.inputs
            .iter()
            .zip(&self.batch_axes)
            .filter(|(_, a)| a.is_none())
            .map(|((n, v), _)| (n.clone(), v.clone()))
            .collect()
    }

    /// The batch size every batched input of `model` declares (a known
    /// dimension on its batch axis, the same for all), with the first such
    /// input: a model exported with a fixed batch runs that many samples at
    /// a time.
    pub fn declared_batch(&self, model: &wdq_ir::Model) -> Option<(String, usize)> {
        let mut found: Option<(String, usize)> = None;
        for ((name, _), axis) in self.inputs.iter().zip(&self.batch_axes) {
            let Some(axis) = axis else { continue };
            match layout::declared_shape(model, name).and_then(|s| s.get(*axis)) {
                Some(wdq_ir::Dim::Known(k)) if found.as_ref().is_none_or(|f| f.1 == *k) => {
                    found.get_or_insert((name.clone(), *k));
                }
                _ => return None,
            }
        }
        found
    }

    /// Samples `start..end` of every input, as owned arrays.
    pub fn batch(&self, start: usize, end: usize) -> Vec<(&str, TensorValue)> {
        let indices: Vec<usize> = (start..end).collect();
        self.train_data().batch(&indices)
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
                .zip(&self.batch_axes)
                .map(|((n, v), axis)| (n.clone(), gather_along(v, *axis, indices)))
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

fn check_count(
    path: &Path,
    key: &str,
    axis: &str,
    got: usize,
    first: &str,
    expected: usize,
) -> Result<(), DataError> {
    if got == expected {
        return Ok(());
    }
    Err(DataError::SampleCount {
        path: path.to_path_buf(),
        key: key.to_string(),
        axis: axis.to_string(),
        got,
        first: first.to_string(),
        expected,
    })
}

fn labels_from(path: &Path, value: TensorValue) -> Result<Vec<i64>, DataError> {
    let bad = || DataError::Labels {
        path: path.to_path_buf(),
        shape: value.shape().to_vec(),
    };
    let labels: Vec<i64> = match &value {
        TensorValue::I64(a) => a.iter().copied().collect(),
        TensorValue::I32(a) => a.iter().map(|&x| x as i64).collect(),
        TensorValue::U8(a) => a.iter().map(|&x| x as i64).collect(),
        other => {
            return Err(DataError::LabelType {
                path: path.to_path_buf(),
                dtype: other.dtype().to_string(),
            })
        }
    };
    if value.shape().len() != 1 {
        return Err(bad());
    }
    Ok(labels)
}

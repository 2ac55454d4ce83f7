//! Datasets: `.npz` (or `.npy`) files whose arrays are keyed by graph input
//! name, plus an optional `labels` array of class indices.
//!
//! [`Dataset`] is wdq-train's (one type from loading to fine-tuning, with
//! its invariant there); this module reads it ([`DataFile`]) and says what
//! is wrong with a file ([`DataError`]). Batch axes: [`crate::layout`].

use crate::layout::{self, BatchAxisOption, LayoutError};
use crate::npy::NpyError;
pub use crate::npz::save_npz;
use std::path::{Path, PathBuf};
use wdq_exec::TensorValue;
pub use wdq_train::{Dataset, SplitError};

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

/// How a [`Dataset`] is read from a file for a model: the loaders and the
/// batch the model declares (the type itself is wdq-train's, shared with
/// fine-tuning; the checks against the model are [`crate::data_checks`]).
pub trait DataFile: Sized {
    /// Loads `path` with every input's samples on axis 0, for a model whose
    /// graph inputs (without defaults) are `input_names`. An `.npz` needs
    /// one array per input name, except that a single-input model accepts a
    /// single non-label array of any name. A `.npy` file is the single
    /// input's array.
    ///
    /// # Errors
    /// [`DataError`] naming the file and the array at fault.
    fn load(path: &Path, input_names: &[String]) -> Result<Self, DataError>;

    /// Loads `path` for `model` (as [`DataFile::load`]), each input's batch
    /// axis decided by `options` (`--batch-axis`), the model's declared
    /// shapes and the arrays (see [`crate::layout`]).
    ///
    /// # Errors
    /// [`DataError`] naming the file, the array, the axis and what was
    /// expected; [`DataError::Layout`] for an option that does not fit.
    fn load_for(
        path: &Path,
        model: &wdq_ir::Model,
        options: &[BatchAxisOption],
    ) -> Result<Self, DataError>;

    /// The batch size every batched input of `model` declares (a known
    /// dimension on its batch axis, the same for all), with the first such
    /// input: a model exported with a fixed batch runs that many samples at
    /// a time.
    fn declared_batch(&self, model: &wdq_ir::Model) -> Option<(String, usize)>;

    /// Checks every input array against its graph input's declared shape
    /// in `model`: the rank and each known dimension but the batch axis;
    /// `path` names the file in the error.
    ///
    /// # Errors
    /// [`DataError::InputShape`] naming the input and the first axis that
    /// differs.
    fn check_shapes(&self, path: &Path, model: &wdq_ir::Model) -> Result<(), DataError>;

    /// Checks that every float input is finite; `path` names the file.
    ///
    /// # Errors
    /// [`DataError::NonFinite`] naming the array and the first bad sample.
    fn check_finite(&self, path: &Path) -> Result<(), DataError>;

    /// Checks that every label is a class index of a `classes`-way
    /// classifier; `path` names the file in the error.
    ///
    /// # Errors
    /// [`DataError::LabelRange`] for the first label out of range.
    fn check_labels(&self, path: &Path, classes: usize) -> Result<(), DataError>;
}

impl DataFile for Dataset {
    fn load(path: &Path, input_names: &[String]) -> Result<Dataset, DataError> {
        let decided = vec![Some(Some(0)); input_names.len()];
        assemble(path, input_names, &decided, None)
    }

    fn load_for(
        path: &Path,
        model: &wdq_ir::Model,
        options: &[BatchAxisOption],
    ) -> Result<Dataset, DataError> {
        let names = crate::required_inputs(model);
        let decided = layout::decide(model, &names, options)?;
        assemble(path, &names, &decided, Some(model))
    }

    fn declared_batch(&self, model: &wdq_ir::Model) -> Option<(String, usize)> {
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

    fn check_shapes(&self, path: &Path, model: &wdq_ir::Model) -> Result<(), DataError> {
        crate::data_checks::shapes(self, path, model)
    }

    fn check_finite(&self, path: &Path) -> Result<(), DataError> {
        crate::data_checks::finite(self, path)
    }

    fn check_labels(&self, path: &Path, classes: usize) -> Result<(), DataError> {
        crate::data_checks::labels(self, path, classes)
    }
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
        None if inputs.is_empty() => (LABELS_KEY.to_string(), labels.as_ref().map_or(0, Vec::len)),
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

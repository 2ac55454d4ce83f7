//! Datasets: `.npz` (or `.npy`) files whose arrays are keyed by graph input
//! name, plus an optional `labels` array of class indices.
//!
//! Invariant of [`Dataset`]: every input array and the labels have the same
//! first (sample) dimension, `len`.

use crate::npy::{self, NpyError};
use ndarray::{Axis, Slice};
use ndarray_npy::NpzWriter;
use std::path::{Path, PathBuf};
use wdq_exec::TensorValue;

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
    #[error("{path}: model input `{input}` is declared {declared} but the array has shape {got:?} (axis {axis} differs); give data of the declared shape")]
    InputShape {
        path: PathBuf,
        input: String,
        declared: String,
        got: Vec<usize>,
        axis: usize,
    },
    #[error("{path}: no array for model input `{input}` (arrays: {available})")]
    MissingInput {
        path: PathBuf,
        input: String,
        available: String,
    },
    #[error("{path}: array `{key}` has {got} samples but `{first}` has {expected}")]
    SampleCount {
        path: PathBuf,
        key: String,
        got: usize,
        first: String,
        expected: usize,
    },
    #[error("{path}: `labels` must be a 1-D array of class indices, got shape {shape:?}")]
    Labels { path: PathBuf, shape: Vec<usize> },
    #[error("{path}: `labels` must hold integer class indices (int64, int32 or uint8), not {dtype}; convert them with labels.astype('int64')")]
    LabelType { path: PathBuf, dtype: String },
    #[error("{path}: array `{key}` is a scalar; inputs need a sample dimension")]
    Scalar { path: PathBuf, key: String },
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
    /// (graph input name, array with samples along axis 0).
    pub inputs: Vec<(String, TensorValue)>,
    pub labels: Option<Vec<i64>>,
    pub len: usize,
}

impl Dataset {
    /// The borrowed view fine-tuning reads.
    pub fn train_data(&self) -> wdq_train::TrainData<'_> {
        wdq_train::TrainData {
            inputs: &self.inputs,
            labels: self.labels.as_deref(),
            len: self.len,
        }
    }

    /// Loads `path` for a model whose graph inputs (without defaults) are
    /// `input_names`. An `.npz` needs one array per input name, except that a
    /// single-input model accepts a single non-label array of any name. A
    /// `.npy` file is the single input's array.
    ///
    /// # Errors
    /// [`DataError`] naming the file and the array at fault.
    pub fn load(path: &Path, input_names: &[String]) -> Result<Dataset, DataError> {
        let arrays = read_arrays(path)?;
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
            let (key, value) = others.swap_remove(pos);
            if value.shape().is_empty() {
                return Err(DataError::Scalar {
                    path: path.to_path_buf(),
                    key,
                });
            }
            inputs.push((name.clone(), value));
        }
        let (first, len) = match inputs.first() {
            Some((k, v)) => (k.clone(), v.shape()[0]),
            None => (LABELS_KEY.to_string(), labels.as_ref().map_or(0, Vec::len)),
        };
        for (key, value) in &inputs {
            check_count(path, key, value.shape()[0], &first, len)?;
        }
        if len == 0 && !(inputs.is_empty() && labels.is_none()) {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        if let Some(l) = &labels {
            check_count(path, LABELS_KEY, l.len(), &first, len)?;
        }
        Ok(Dataset {
            inputs,
            labels,
            len,
        })
    }

    /// Checks every input array against its graph input's declared shape
    /// in `model`: the rank and each known dimension after the first (the
    /// samples); `path` names the file in the error.
    ///
    /// # Errors
    /// [`DataError::InputShape`] naming the input and the first axis that
    /// differs.
    pub fn check_shapes(&self, path: &Path, model: &wdq_ir::Model) -> Result<(), DataError> {
        let graph = &model.graph;
        for (name, value) in &self.inputs {
            let declared = graph
                .inputs
                .iter()
                .map(|&v| graph.value(v))
                .find(|v| &v.name == name)
                .and_then(|v| v.ty.as_ref()?.shape.as_ref());
            let Some(declared) = declared else { continue };
            let got = value.shape();
            let differs = |(axis, dim): (usize, &wdq_ir::Dim)| match dim {
                _ if axis >= got.len() => true,
                wdq_ir::Dim::Known(d) => axis > 0 && got[axis] != *d,
                _ => false,
            };
            let axis = declared
                .iter()
                .enumerate()
                .position(differs)
                .or((got.len() != declared.len()).then_some(declared.len().min(got.len())));
            if let Some(axis) = axis {
                let dims: Vec<String> = declared
                    .iter()
                    .map(|d| match d {
                        wdq_ir::Dim::Known(n) => n.to_string(),
                        wdq_ir::Dim::Named(s) => s.clone(),
                        wdq_ir::Dim::Unknown => "?".to_string(),
                    })
                    .collect();
                return Err(DataError::InputShape {
                    path: path.to_path_buf(),
                    input: name.clone(),
                    declared: format!("[{}]", dims.join(",")),
                    got: got.to_vec(),
                    axis,
                });
            }
        }
        Ok(())
    }

    /// Checks that every float input is finite; `path` names the file.
    ///
    /// # Errors
    /// [`DataError::NonFinite`] naming the array and the first bad sample.
    pub fn check_finite(&self, path: &Path) -> Result<(), DataError> {
        for (key, value) in &self.inputs {
            let per_sample = value.shape().iter().skip(1).product::<usize>();
            let bad = match value {
                TensorValue::F32(a) => a.iter().position(|x| !x.is_finite()),
                TensorValue::F64(a) => a.iter().position(|x| !x.is_finite()),
                _ => None,
            };
            if let Some(at) = bad {
                return Err(DataError::NonFinite {
                    path: path.to_path_buf(),
                    key: key.clone(),
                    sample: at / per_sample.max(1),
                });
            }
        }
        Ok(())
    }

    /// Samples `start..end` of every input, as owned arrays.
    pub fn batch(&self, start: usize, end: usize) -> Vec<(&str, TensorValue)> {
        let range = Slice::from(start..end);
        self.inputs
            .iter()
            .map(|(name, value)| (name.as_str(), slice_samples(value, range)))
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

    /// Checks that every label is a class index of a `classes`-way
    /// classifier; `path` names the file in the error.
    ///
    /// # Errors
    /// [`DataError::LabelRange`] for the first label out of range.
    pub fn check_labels(&self, path: &Path, classes: usize) -> Result<(), DataError> {
        let Some(labels) = &self.labels else {
            return Ok(());
        };
        match labels.iter().position(|&l| l < 0 || l as usize >= classes) {
            None => Ok(()),
            Some(sample) => Err(DataError::LabelRange {
                path: path.to_path_buf(),
                sample,
                label: labels[sample],
                classes,
            }),
        }
    }

    /// The samples `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            inputs: self
                .inputs
                .iter()
                .map(|(n, v)| (n.clone(), wdq_train::gather_samples(v, indices)))
                .collect(),
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
        got,
        first: first.to_string(),
        expected,
    })
}

fn slice_samples(value: &TensorValue, range: Slice) -> TensorValue {
    macro_rules! cut {
        ($($v:ident),*) => {
            match value { $(TensorValue::$v(a) => TensorValue::$v(a.slice_axis(Axis(0), range).to_owned()),)* }
        };
    }
    cut!(F32, F64, I64, I32, I8, U8, I4, U4, Bool)
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

/// Reads every array of `path` (an `.npy`, else an `.npz`), sorted by
/// key, within the memory budget (see [`crate::npy`]).
fn read_arrays(path: &Path) -> Result<Vec<(String, TensorValue)>, DataError> {
    let (mut file, size) = wdq_onnx::open_regular(path).map_err(|source| DataError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut budget = npy::memory_budget();
    if path.extension().is_some_and(|e| e == "npy") {
        let value = npy::read_npy(&mut file, size, budget).map_err(|source| DataError::Npy {
            path: path.to_path_buf(),
            source,
        })?;
        let key = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        return Ok(vec![(key, value)]);
    }
    let npz_err = |source| DataError::Npz {
        path: path.to_path_buf(),
        source,
    };
    let mut npz = zip::ZipArchive::new(file).map_err(npz_err)?;
    let mut entries: Vec<(String, usize)> = Vec::new();
    for index in 0..npz.len() {
        let entry = npz.by_index(index).map_err(npz_err)?;
        let name = entry.name().to_string();
        let Some(key) = name.strip_suffix(".npy").filter(|_| entry.is_file()) else {
            return Err(DataError::NotNpy {
                path: path.to_path_buf(),
                entry: name,
            });
        };
        if entries.iter().any(|(k, _)| k == key) {
            return Err(DataError::DuplicateKey {
                path: path.to_path_buf(),
                key: key.to_string(),
            });
        }
        entries.push((key.to_string(), index));
    }
    entries.sort();
    let mut out = Vec::new();
    for (key, index) in entries {
        let mut entry = npz.by_index(index).map_err(npz_err)?;
        let declared = entry.size();
        let value =
            npy::read_npy(&mut entry, declared, budget).map_err(|source| DataError::Entry {
                path: path.to_path_buf(),
                key: key.clone(),
                source,
            })?;
        budget = budget.saturating_sub(declared);
        out.push((key, value));
    }
    Ok(out)
}

/// Writes arrays to an `.npz` file atomically.
///
/// # Errors
/// [`DataError::Write`] if the file cannot be written.
pub fn save_npz(path: &Path, arrays: &[(String, TensorValue)]) -> Result<(), DataError> {
    let write_err = |source| DataError::Write {
        path: path.to_path_buf(),
        source,
    };
    crate::files::write_atomically(path, |file| {
        let mut npz = NpzWriter::new(file);
        let io = |e: ndarray_npy::WriteNpzError| std::io::Error::other(e.to_string());
        for (name, value) in arrays {
            match value {
                TensorValue::F32(a) => npz.add_array(name.as_str(), a).map_err(io)?,
                TensorValue::F64(a) => npz.add_array(name.as_str(), a).map_err(io)?,
                TensorValue::I64(a) => npz.add_array(name.as_str(), a).map_err(io)?,
                TensorValue::I32(a) => npz.add_array(name.as_str(), a).map_err(io)?,
                TensorValue::I8(a) | TensorValue::I4(a) => {
                    npz.add_array(name.as_str(), a).map_err(io)?
                }
                TensorValue::U8(a) | TensorValue::U4(a) => {
                    npz.add_array(name.as_str(), a).map_err(io)?
                }
                TensorValue::Bool(a) => npz.add_array(name.as_str(), a).map_err(io)?,
            }
        }
        npz.finish().map_err(io)?;
        Ok(())
    })
    .map_err(write_err)
}

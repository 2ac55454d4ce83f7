//! Reading and writing the arrays of a data file: `.npz` archives of
//! `NAME.npy` entries, or one `.npy`.

use crate::data::DataError;
use crate::npy;
use ndarray_npy::NpzWriter;
use std::path::Path;
use wdq_exec::TensorValue;

/// Reads every array of `path` (an `.npy`, else an `.npz`), sorted by
/// key, within the memory budget (see [`crate::npy`]).
pub(crate) fn read_arrays(path: &Path) -> Result<Vec<(String, TensorValue)>, DataError> {
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

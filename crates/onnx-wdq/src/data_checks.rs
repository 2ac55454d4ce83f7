//! The checks of a loaded [`Dataset`] against its model: declared shapes
//! (the batch axis excepted), finite floats, labels within the classes
//! (called as [`crate::data::DataFile`] methods).

use crate::data::{DataError, Dataset};
use crate::layout;
use std::path::Path;
use wdq_exec::TensorValue;

/// Checks every input array against its graph input's declared shape
/// in `model`: the rank and each known dimension after the first (the
/// samples); `path` names the file in the error.
///
/// # Errors
/// [`DataError::InputShape`] naming the input and the first axis that
/// differs.
pub(crate) fn shapes(data: &Dataset, path: &Path, model: &wdq_ir::Model) -> Result<(), DataError> {
    for ((name, value), batch_axis) in data.inputs.iter().zip(&data.batch_axes) {
        let Some(declared) = layout::declared_shape(model, name) else {
            continue;
        };
        let got = value.shape();
        let differs = |(axis, dim): (usize, &wdq_ir::Dim)| match dim {
            _ if axis >= got.len() => true,
            wdq_ir::Dim::Known(d) => Some(axis) != *batch_axis && got[axis] != *d,
            _ => false,
        };
        let axis = declared
            .iter()
            .enumerate()
            .position(differs)
            .or((got.len() != declared.len()).then_some(declared.len().min(got.len())));
        if let Some(axis) = axis {
            let role = match batch_axis {
                Some(b) => format!("its samples are on axis {b}"),
                None => "it is fixed: one value fed with every batch".to_string(),
            };
            return Err(DataError::InputShape {
                path: path.to_path_buf(),
                input: name.clone(),
                declared: layout::render_dims(declared),
                got: got.to_vec(),
                axis: format!("{axis} differs; {role}"),
            });
        }
    }
    Ok(())
}

/// Checks that every float input is finite; `path` names the file.
///
/// # Errors
/// [`DataError::NonFinite`] naming the array and the first bad sample.
pub(crate) fn finite(data: &Dataset, path: &Path) -> Result<(), DataError> {
    for ((key, value), axis) in data.inputs.iter().zip(&data.batch_axes) {
        let shape = value.shape();
        let sample_of = |at: usize| match axis {
            Some(a) if *a < shape.len() => {
                (at / shape[a + 1..].iter().product::<usize>().max(1)) % shape[*a].max(1)
            }
            _ => 0,
        };
        let bad = match value {
            TensorValue::F32(a) => a.iter().position(|x| !x.is_finite()),
            TensorValue::F64(a) => a.iter().position(|x| !x.is_finite()),
            _ => None,
        };
        if let Some(at) = bad {
            return Err(DataError::NonFinite {
                path: path.to_path_buf(),
                key: key.clone(),
                sample: sample_of(at),
            });
        }
    }
    Ok(())
}

/// Checks that every label is a class index of a `classes`-way
/// classifier; `path` names the file in the error.
///
/// # Errors
/// [`DataError::LabelRange`] for the first label out of range.
pub(crate) fn labels(data: &Dataset, path: &Path, classes: usize) -> Result<(), DataError> {
    let Some(labels) = &data.labels else {
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

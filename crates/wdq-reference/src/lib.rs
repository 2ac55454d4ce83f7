//! Runs an ONNX file in tract, the independent reference runtime, so tests
//! and `onnx-wdq verify` can compare wdq-exec against it. tract runs fp32
//! and int8/uint8 QDQ models; it cannot load INT4/UINT4 tensors.

use ndarray::ArrayD;
use std::path::{Path, PathBuf};
use tract_onnx::prelude::{
    Datum, DatumTypeExt, Framework, InferenceModelExt, IntoRunnable, TValue, Tensor,
};
use tract_onnx::tract_hir::infer::Factoid;

/// An input or output array for a reference run.
#[derive(Clone, Debug, PartialEq)]
pub enum RefArray {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
}

/// Why tract could not run a model.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("tract cannot load {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("tract failed to run {path}: {message}")]
    Run { path: PathBuf, message: String },
    #[error("{path}: output {index} is not f32 or i64")]
    OutputType { path: PathBuf, index: usize },
}

fn tensor_of(a: &RefArray) -> Tensor {
    match a {
        RefArray::F32(a) => tensor_from(a),
        RefArray::I64(a) => tensor_from(a),
    }
}

fn tensor_from<T: Datum + Copy>(a: &ArrayD<T>) -> Tensor {
    let data: Vec<T> = a.iter().copied().collect();
    Tensor::from_shape(a.shape(), &data).expect("array data matches its shape")
}

/// Runs the model at `path` in tract on `inputs` (in graph input order) and
/// returns its outputs. Input shapes are fixed from the arrays given.
///
/// # Errors
/// [`ReferenceError`] when tract cannot load, optimise or run the model.
pub fn run_tract(path: &Path, inputs: &[RefArray]) -> Result<Vec<RefArray>, ReferenceError> {
    let load = |e: tract_onnx::prelude::TractError| ReferenceError::Load {
        path: path.to_path_buf(),
        message: format!("{e:#}"),
    };
    let mut model = tract_onnx::onnx().model_for_path(path).map_err(load)?;
    // Inputs declared with symbolic dimensions keep them (the same symbol may
    // appear in value_info further down); others get the arrays' shapes.
    for (i, input) in inputs.iter().enumerate() {
        let declared = model.input_fact(i).map_err(load)?;
        let symbolic = declared
            .shape
            .dims()
            .any(|d| matches!(d.concretize(), Some(dim) if dim.to_i64().is_err()));
        if symbolic {
            continue;
        }
        let fact = tensor_of(input).datum_type().fact(input_shape(input));
        model = model.with_input_fact(i, fact.into()).map_err(load)?;
    }
    let runnable = model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(load)?;
    let values: tract_onnx::prelude::TVec<TValue> =
        inputs.iter().map(|a| tensor_of(a).into()).collect();
    let outputs = runnable.run(values).map_err(|e| ReferenceError::Run {
        path: path.to_path_buf(),
        message: format!("{e:#}"),
    })?;
    outputs
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let bad = || ReferenceError::OutputType {
                path: path.to_path_buf(),
                index,
            };
            let shape = t.shape().to_vec();
            if let Ok(v) = t.to_plain_array_view::<f32>() {
                let values: Vec<f32> = v.iter().copied().collect();
                return ArrayD::from_shape_vec(shape, values)
                    .map(RefArray::F32)
                    .map_err(|_| bad());
            }
            if let Ok(v) = t.to_plain_array_view::<i64>() {
                let values: Vec<i64> = v.iter().copied().collect();
                return ArrayD::from_shape_vec(shape, values)
                    .map(RefArray::I64)
                    .map_err(|_| bad());
            }
            Err(bad())
        })
        .collect()
}

fn input_shape(a: &RefArray) -> Vec<usize> {
    match a {
        RefArray::F32(a) => a.shape().to_vec(),
        RefArray::I64(a) => a.shape().to_vec(),
    }
}

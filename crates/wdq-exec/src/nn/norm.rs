//! BatchNormalization (inference form) and LayerNormalization.
//!
//! BatchNormalization folds its four per-channel operands into one scale
//! and shift per channel (`a = scale / sqrt(var + eps)`, `b = B - mean * a`)
//! and returns only `Y`; training mode is refused. LayerNormalization
//! normalises over `dims[axis..]` with f64 statistics and returns `Y`,
//! `Mean` and `InvStdDev` (the last two shaped `dims[..axis]` followed by
//! ones).

use super::broadcast::zip;
use super::parallel::chunks;
use crate::kit::{array, contiguous, f32_input, norm_axis, optional_f32, PARALLEL_MIN};
use crate::{KernelError, KernelResult, TensorValue};
use ndarray::ArrayD;
use rayon::prelude::{ParallelIterator, ParallelSlice};
use wdq_ir::op::{BatchNormAttrs, LayerNormAttrs};

/// Operand `index` of a per-channel op, which must hold `channels` values.
pub(crate) fn per_channel<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
    channels: usize,
) -> Result<std::borrow::Cow<'a, [f32]>, KernelError> {
    let v = f32_input(inputs, index)?;
    if v.len() != channels {
        return Err(KernelError::Shape(format!(
            "per-channel operand {index} has shape {:?}, expected {channels} values",
            v.shape()
        )));
    }
    Ok(contiguous(v))
}

/// BatchNormalization in inference form.
pub(super) fn batch_norm(attrs: &BatchNormAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    if attrs.training_mode == Some(1) {
        return Err(KernelError::Unsupported(
            "BatchNormalization in training mode".into(),
        ));
    }
    if attrs.spatial == Some(0) {
        return Err(KernelError::Unsupported(
            "BatchNormalization with spatial=0".into(),
        ));
    }
    let x = f32_input(inputs, 0)?;
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(KernelError::Shape(format!(
            "BatchNormalization input {shape:?} needs rank >= 2"
        )));
    }
    let channels = shape[1];
    let eps = attrs.epsilon.unwrap_or(1e-5);
    let (scale, bias) = (
        per_channel(inputs, 1, channels)?,
        per_channel(inputs, 2, channels)?,
    );
    let (mean, var) = (
        per_channel(inputs, 3, channels)?,
        per_channel(inputs, 4, channels)?,
    );
    let a: Vec<f32> = (0..channels)
        .map(|c| scale[c] / (var[c] + eps).sqrt())
        .collect();
    let b: Vec<f32> = (0..channels).map(|c| bias[c] - mean[c] * a[c]).collect();
    let plane: usize = shape[2..].iter().product();
    let src = contiguous(x);
    let mut out = vec![0.0f32; src.len()];
    if plane > 0 {
        chunks(&mut out, plane, src.len(), |i, o| {
            let c = i % channels;
            let (ac, bc) = (a[c], b[c]);
            for (o, &v) in o.iter_mut().zip(&src[i * plane..(i + 1) * plane]) {
                *o = v * ac + bc;
            }
        });
    }
    let mut result = vec![Some(TensorValue::F32(array(shape, out)?))];
    result.resize(5, None);
    Ok(result)
}

/// Broadcasts an optional per-feature operand to the normalised shape.
fn expand(
    operand: Option<&ArrayD<f32>>,
    norm_shape: &[usize],
    fill: f32,
) -> Result<Vec<f32>, KernelError> {
    let size: usize = norm_shape.iter().product();
    match operand {
        None => Ok(vec![fill; size]),
        Some(v) => {
            let zeros = vec![0.0f32; size];
            let (shape, data) = zip(&contiguous(v), v.shape(), &zeros, norm_shape, |s, _| s)?;
            if shape != norm_shape {
                return Err(KernelError::Broadcast {
                    a: v.shape().to_vec(),
                    b: norm_shape.to_vec(),
                });
            }
            Ok(data)
        }
    }
}

/// LayerNormalization over `dims[axis..]`.
pub(super) fn layer_norm(attrs: &LayerNormAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let shape = x.shape();
    let axis = norm_axis(attrs.axis.unwrap_or(-1), shape.len(), "axis")?;
    let eps = attrs.epsilon.unwrap_or(1e-5) as f64;
    let norm_shape = &shape[axis..];
    let scale = expand(Some(f32_input(inputs, 1)?), norm_shape, 1.0)?;
    let bias = expand(optional_f32(inputs, 2)?, norm_shape, 0.0)?;
    let d: usize = norm_shape.iter().product();
    let rows: usize = shape[..axis].iter().product();
    let src = contiguous(x);
    let mut out = vec![0.0f32; src.len()];
    let stats: Vec<(f32, f32)> = row_stats(&src, rows, d, eps)
        .into_iter()
        .map(|(m, i)| (m as f32, i as f32))
        .collect();
    if let Some(per_task) = PARALLEL_MIN.checked_div(d) {
        let per_task = per_task.max(1);
        chunks(&mut out, d * per_task, src.len(), |t, o| {
            for (r, o_row) in o.chunks_exact_mut(d).enumerate() {
                let row = &src[(t * per_task + r) * d..][..d];
                let (m, i) = stats[t * per_task + r];
                for (j, (o, &v)) in o_row.iter_mut().zip(row).enumerate() {
                    *o = (v - m) * i * scale[j] + bias[j];
                }
            }
        });
    }
    let mut stat_shape = shape[..axis].to_vec();
    stat_shape.resize(shape.len(), 1);
    let (means, invs): (Vec<f32>, Vec<f32>) = stats.into_iter().unzip();
    Ok(vec![
        Some(TensorValue::F32(array(shape, out)?)),
        Some(TensorValue::F32(array(&stat_shape, means)?)),
        Some(TensorValue::F32(array(&stat_shape, invs)?)),
    ])
}

/// Mean and `1 / sqrt(var + eps)` (biased variance, f64) of each row of
/// `d` consecutive elements of `src` (`rows` of them; `(0, 0)` for empty
/// rows): the statistics of every normalisation (Layer-, Instance- and
/// GroupNormalization, forward and backward).
pub(crate) fn row_stats(src: &[f32], rows: usize, d: usize, eps: f64) -> Vec<(f64, f64)> {
    if d == 0 {
        return vec![(0.0, 0.0); rows];
    }
    src.par_chunks(d)
        .map(|row| {
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
            (mean, 1.0 / (var + eps).sqrt())
        })
        .collect()
}

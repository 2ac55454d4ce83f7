//! BatchNormalization (inference form), LayerNormalization, and Group- and
//! InstanceNormalization (one kernel: an instance norm is a group norm with
//! one group per channel).
//!
//! BatchNormalization folds its four per-channel operands into one scale
//! and shift per channel (`a = scale / sqrt(var + eps)`, `b = B - mean * a`)
//! and returns only `Y`; training mode is refused. LayerNormalization
//! normalises over `dims[axis..]` with f64 statistics and returns `Y`,
//! `Mean` and `InvStdDev` (the last two shaped `dims[..axis]` followed by
//! ones).

use super::broadcast::zip;
use super::parallel::chunks;
use crate::kit::{array, contiguous, f32_input, norm_axis, optional_f32, single, PARALLEL_MIN};
use crate::{KernelError, KernelResult, TensorValue};
use ndarray::ArrayD;
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSlice, ParallelSliceMut};
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

/// The layout of a Group- or InstanceNormalization over `[N, C, ...]`:
/// rows of `C / groups` channels times the spatial plane, normalised
/// together; scale and bias per channel, or per group (GroupNormalization
/// before opset 21).
pub(crate) struct GroupLayout {
    pub batch: usize,
    pub channels: usize,
    pub groups: usize,
    /// Elements of one channel of one item.
    pub plane: usize,
    /// Scale and bias hold one value per group rather than per channel.
    pub per_group: bool,
}

impl GroupLayout {
    /// The layout of input `shape` with `groups` (`None`: one per channel)
    /// and a scale of `scale_len` values.
    ///
    /// # Errors
    /// [`KernelError`] for a rank below 2, a group count that does not
    /// divide the channels, or a scale of another length.
    pub(crate) fn of(
        shape: &[usize],
        groups: Option<i64>,
        scale_len: usize,
    ) -> Result<GroupLayout, KernelError> {
        if shape.len() < 2 {
            return Err(KernelError::Shape(format!(
                "normalisation input {shape:?} needs rank >= 2"
            )));
        }
        let (batch, channels) = (shape[0], shape[1]);
        let groups = match groups {
            None => channels,
            Some(g) => usize::try_from(g)
                .ok()
                .filter(|&g| g > 0 && channels % g == 0)
                .ok_or_else(|| KernelError::Attribute {
                    name: "num_groups",
                    why: format!("{g} does not divide {channels} channels"),
                })?,
        };
        let per_group = scale_len != channels;
        if per_group && scale_len != groups {
            return Err(KernelError::Shape(format!(
                "scale of {scale_len} values for {channels} channels in {groups} groups"
            )));
        }
        Ok(GroupLayout {
            batch,
            channels,
            groups,
            plane: shape[2..].iter().product(),
            per_group,
        })
    }

    /// Elements of one normalised row.
    pub fn row_len(&self) -> usize {
        self.channels / self.groups * self.plane
    }

    /// Rows (items times groups).
    pub fn rows(&self) -> usize {
        self.batch * self.groups
    }

    /// The channel of element `j` of row `r`.
    pub fn channel(&self, r: usize, j: usize) -> usize {
        (r % self.groups) * (self.channels / self.groups) + j / self.plane.max(1)
    }

    /// The scale/bias index of channel `c`.
    pub fn affine(&self, c: usize) -> usize {
        if self.per_group {
            c / (self.channels / self.groups)
        } else {
            c
        }
    }
}

/// Group- or InstanceNormalization (`groups: None`): inputs `(X, scale,
/// bias)`, output `Y`.
pub(super) fn group_norm(
    groups: Option<i64>,
    epsilon: f32,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let scale = contiguous(f32_input(inputs, 1)?);
    let bias = contiguous(f32_input(inputs, 2)?);
    let layout = GroupLayout::of(x.shape(), groups, scale.len())?;
    if bias.len() != scale.len() {
        return Err(KernelError::Shape(format!(
            "bias of {} values for a scale of {}",
            bias.len(),
            scale.len()
        )));
    }
    let (rows, d) = (layout.rows(), layout.row_len());
    let src = contiguous(x);
    let stats = row_stats(&src, rows, d, epsilon as f64);
    let mut out = vec![0.0f32; src.len()];
    if d > 0 {
        out.par_chunks_mut(d).enumerate().for_each(|(r, o)| {
            let (m, inv) = stats[r];
            for (j, o) in o.iter_mut().enumerate() {
                let k = layout.affine(layout.channel(r, j));
                let xhat = (src[r * d + j] as f64 - m) * inv;
                *o = (xhat * scale[k] as f64 + bias[k] as f64) as f32;
            }
        });
    }
    single(TensorValue::F32(array(x.shape(), out)?))
}

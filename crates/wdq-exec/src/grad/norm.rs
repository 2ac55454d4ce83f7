//! Normalisation backward: Softmax / LogSoftmax (from the forward output),
//! BatchNormalization in inference form (frozen statistics),
//! LayerNormalization, and Group- and InstanceNormalization. Per-channel and per-feature sums run sequentially
//! in index order (BatchNormalization: each `(item, channel)` plane in f32,
//! planes added in f64; elsewhere f64 throughout).

use super::{expect_shape, slot};
use crate::kit::{contiguous, f32_input, norm_axis};
use crate::nn::norm::{per_channel, row_stats, GroupLayout};
use crate::{KernelError, KernelResult, TensorValue};
use ndarray::ArrayD;
use rayon::prelude::{
    IndexedParallelIterator, IntoParallelIterator, ParallelIterator, ParallelSliceMut,
};
use wdq_ir::grad_op::Wanted;

/// Inputs 0 (an output gradient) and 1 (the forward tensor it must match
/// in shape; `what` names the gradient in the error).
fn gradient_and_forward<'a>(
    inputs: &[Option<&'a TensorValue>],
    what: &str,
) -> Result<(&'a ArrayD<f32>, &'a ArrayD<f32>), KernelError> {
    let dy = f32_input(inputs, 0)?;
    let forward = f32_input(inputs, 1)?;
    expect_shape(dy.shape(), forward.shape(), what)?;
    Ok((dy, forward))
}

/// SoftmaxGrad: inputs `(dY, Y)`, output `dX`.
pub(super) fn softmax_grad(
    axis: i64,
    log: bool,
    coerce_2d: bool,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let (dy, y) = gradient_and_forward(inputs, "softmax output gradient")?;
    let shape = y.shape();
    let axis = norm_axis(axis, shape.len(), "axis")?;
    let (len, inner) = if coerce_2d {
        (shape[axis..].iter().product::<usize>(), 1)
    } else {
        (
            shape.get(axis).copied().unwrap_or(1),
            shape[axis + 1..].iter().product::<usize>(),
        )
    };
    let (g, yd) = (contiguous(dy), contiguous(y));
    let mut dx = vec![0.0f32; yd.len()];
    let block = len * inner;
    if block > 0 {
        dx.par_chunks_mut(block).enumerate().for_each(|(o, out)| {
            let (gb, yb) = (&g[o * block..][..block], &yd[o * block..][..block]);
            for j in 0..inner {
                let at = |i: usize| j + i * inner;
                if log {
                    let s: f64 = (0..len).map(|i| gb[at(i)] as f64).sum();
                    for i in 0..len {
                        out[at(i)] = gb[at(i)] - (yb[at(i)].exp() as f64 * s) as f32;
                    }
                } else {
                    let s: f64 = (0..len).map(|i| (gb[at(i)] * yb[at(i)]) as f64).sum();
                    for i in 0..len {
                        out[at(i)] = yb[at(i)] * (gb[at(i)] - s as f32);
                    }
                }
            }
        });
    }
    Ok(vec![slot(shape, Some(dx))?])
}

/// BatchNormGrad: inputs `(dY, X, scale, mean, var)`, outputs
/// `(dX, dScale, dBias)` as wanted.
pub(super) fn batch_norm_grad(
    epsilon: f32,
    wanted: Wanted,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let (dy, x) = gradient_and_forward(inputs, "BatchNormalization output gradient")?;
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(KernelError::Shape(format!(
            "BatchNormalization input {shape:?} needs rank >= 2"
        )));
    }
    let (batch, channels) = (shape[0], shape[1]);
    let plane: usize = shape[2..].iter().product();
    let scale = per_channel(inputs, 2, channels)?;
    let mean = per_channel(inputs, 3, channels)?;
    let var = per_channel(inputs, 4, channels)?;
    let inv: Vec<f32> = var.iter().map(|&v| 1.0 / (v + epsilon).sqrt()).collect();
    let (g, xs) = (contiguous(dy), contiguous(x));
    let dx = wanted.get(0).then(|| {
        let a: Vec<f32> = (0..channels)
            .map(|c| scale[c] / (var[c] + epsilon).sqrt())
            .collect();
        let mut dx = vec![0.0f32; g.len()];
        if plane > 0 {
            dx.par_chunks_mut(plane).enumerate().for_each(|(i, o)| {
                let ac = a[i % channels];
                for (o, &v) in o.iter_mut().zip(&g[i * plane..(i + 1) * plane]) {
                    *o = v * ac;
                }
            });
        }
        dx
    });
    let (want_scale, want_bias) = (wanted.get(1), wanted.get(2));
    let affine: Vec<(f32, f32)> = if want_scale || want_bias {
        (0..channels)
            .into_par_iter()
            .map(|c| {
                let (mut s_scale, mut s_bias) = (0.0f64, 0.0f64);
                for n in 0..batch {
                    let start = (n * channels + c) * plane;
                    let (gp, xp) = (&g[start..start + plane], &xs[start..start + plane]);
                    let m = mean[c];
                    let (mut a, mut b) = (0.0f32, 0.0f32);
                    for (&gv, &xv) in gp.iter().zip(xp) {
                        a += gv * (xv - m);
                        b += gv;
                    }
                    s_scale += a as f64;
                    s_bias += b as f64;
                }
                ((s_scale * inv[c] as f64) as f32, s_bias as f32)
            })
            .collect()
    } else {
        Vec::new()
    };
    let dscale = want_scale.then(|| affine.iter().map(|p| p.0).collect::<Vec<f32>>());
    let dbias = want_bias.then(|| affine.iter().map(|p| p.1).collect::<Vec<f32>>());
    let per = [channels];
    Ok(vec![
        slot(shape, dx)?,
        slot(&per, dscale)?,
        slot(&per, dbias)?,
    ])
}

/// LayerNormGrad: inputs `(dY, X, scale)`, outputs `(dX, dScale, dBias)`
/// as wanted; `dScale` and `dBias` shaped like the scale.
pub(super) fn layer_norm_grad(
    axis: i64,
    epsilon: f32,
    wanted: Wanted,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let (dy, x) = gradient_and_forward(inputs, "LayerNormalization output gradient")?;
    let scale = f32_input(inputs, 2)?;
    let shape = x.shape();
    let axis = norm_axis(axis, shape.len(), "axis")?;
    let d: usize = shape[axis..].iter().product();
    let rows: usize = shape[..axis].iter().product();
    let s = contiguous(scale);
    if s.len() != d && s.len() != 1 {
        return Err(KernelError::Unsupported(format!(
            "LayerNormalization backward with scale {:?} over {:?}",
            scale.shape(),
            &shape[axis..]
        )));
    }
    let sc = |j: usize| if s.len() == 1 { s[0] } else { s[j] };
    let (g, xs) = (contiguous(dy), contiguous(x));
    let stats = row_stats(&xs, rows, d, epsilon as f64);
    let xhat = |r: usize, j: usize| (xs[r * d + j] as f64 - stats[r].0) * stats[r].1;
    let dx = wanted.get(0).then(|| {
        let mut dx = vec![0.0f32; xs.len()];
        if d > 0 {
            dx.par_chunks_mut(d).enumerate().for_each(|(r, o)| {
                let gr = &g[r * d..(r + 1) * d];
                let (mut m1, mut m2) = (0.0f64, 0.0f64);
                for j in 0..d {
                    let gh = gr[j] as f64 * sc(j) as f64;
                    m1 += gh;
                    m2 += gh * xhat(r, j);
                }
                let (m1, m2) = (m1 / d as f64, m2 / d as f64);
                for j in 0..d {
                    let gh = gr[j] as f64 * sc(j) as f64;
                    o[j] = (stats[r].1 * (gh - m1 - xhat(r, j) * m2)) as f32;
                }
            });
        }
        dx
    });
    let column_sums = |f: &(dyn Fn(usize, usize) -> f64 + Sync)| -> Vec<f32> {
        let sums: Vec<f32> = (0..d)
            .into_par_iter()
            .map(|j| (0..rows).map(|r| f(r, j)).sum::<f64>() as f32)
            .collect();
        if s.len() == 1 {
            vec![sums.iter().map(|&v| v as f64).sum::<f64>() as f32]
        } else {
            sums
        }
    };
    let dscale = wanted
        .get(1)
        .then(|| column_sums(&|r, j| g[r * d + j] as f64 * xhat(r, j)));
    let dbias = wanted
        .get(2)
        .then(|| column_sums(&|r, j| g[r * d + j] as f64));
    Ok(vec![
        slot(shape, dx)?,
        slot(scale.shape(), dscale)?,
        slot(scale.shape(), dbias)?,
    ])
}

/// GroupNormGrad (Group- and InstanceNormalization): inputs `(dY, X,
/// scale)`, outputs `(dX, dScale, dBias)` as wanted, shaped like the scale
/// (per channel, or per group). With `gh = dY * scale`, each row's
/// `dX = inv * (gh - mean(gh) - xhat * mean(gh * xhat))`; the affine sums
/// run per channel in index order (items, then the plane), f64.
pub(super) fn group_norm_grad(
    groups: Option<i64>,
    epsilon: f32,
    wanted: Wanted,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let (dy, x) = gradient_and_forward(inputs, "normalisation output gradient")?;
    let scale = f32_input(inputs, 2)?;
    let s = contiguous(scale);
    let layout = GroupLayout::of(x.shape(), groups, s.len())?;
    let (rows, d) = (layout.rows(), layout.row_len());
    let (g, xs) = (contiguous(dy), contiguous(x));
    let stats = row_stats(&xs, rows, d, epsilon as f64);
    let xhat = |r: usize, j: usize| (xs[r * d + j] as f64 - stats[r].0) * stats[r].1;
    let dx = wanted.get(0).then(|| {
        let mut dx = vec![0.0f32; xs.len()];
        if d > 0 {
            dx.par_chunks_mut(d).enumerate().for_each(|(r, o)| {
                let gh: Vec<f64> = (0..d)
                    .map(|j| g[r * d + j] as f64 * s[layout.affine(layout.channel(r, j))] as f64)
                    .collect();
                let m1 = gh.iter().sum::<f64>() / d as f64;
                let m2 = (0..d).map(|j| gh[j] * xhat(r, j)).sum::<f64>() / d as f64;
                for j in 0..d {
                    o[j] = (stats[r].1 * (gh[j] - m1 - xhat(r, j) * m2)) as f32;
                }
            });
        }
        dx
    });
    // Per channel: (sum g * xhat, sum g) over items and the plane.
    let per_channel = |f: &(dyn Fn(usize, usize) -> f64 + Sync)| -> Vec<f32> {
        let cpg = layout.channels / layout.groups;
        let sums: Vec<f64> = (0..layout.channels)
            .into_par_iter()
            .map(|c| {
                let (grp, within) = (c / cpg, c % cpg);
                (0..layout.batch)
                    .flat_map(|n| {
                        let r = n * layout.groups + grp;
                        (0..layout.plane).map(move |p| (r, within * layout.plane + p))
                    })
                    .map(|(r, j)| f(r, j))
                    .sum()
            })
            .collect();
        if layout.per_group {
            sums.chunks(cpg.max(1))
                .map(|c| c.iter().sum::<f64>() as f32)
                .collect()
        } else {
            sums.into_iter().map(|v| v as f32).collect()
        }
    };
    let dscale = wanted
        .get(1)
        .then(|| per_channel(&|r, j| g[r * d + j] as f64 * xhat(r, j)));
    let dbias = wanted
        .get(2)
        .then(|| per_channel(&|r, j| g[r * d + j] as f64));
    Ok(vec![
        slot(x.shape(), dx)?,
        slot(scale.shape(), dscale)?,
        slot(scale.shape(), dbias)?,
    ])
}

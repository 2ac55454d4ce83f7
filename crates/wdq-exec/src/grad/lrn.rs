//! LRN backward: with `s_c = bias + alpha / size * sum_k x_k^2` over the
//! window of `c`, `dx_j = g_j s_j^-beta - 2 beta alpha / size x_j
//! sum_{c : j in window(c)} g_c x_c s_c^(-beta - 1)`. f64 inside; each item
//! is computed by one task.

use super::{expect_shape, slot};
use crate::kit::{contiguous, f32_input};
use crate::nn::lrn::Lrn;
use crate::KernelResult;
use crate::TensorValue;
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};
use wdq_ir::op::LrnAttrs;

/// LRNGrad: inputs `(dY, X)`, output `dX`.
pub(super) fn lrn_grad(attrs: &LrnAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    expect_shape(dy.shape(), x.shape(), "LRN output gradient")?;
    let lrn = Lrn::of(attrs, x.shape())?;
    let (g, xs) = (contiguous(dy), contiguous(x));
    let item = lrn.channels * lrn.plane;
    let mut dx = vec![0.0f32; xs.len()];
    if item > 0 {
        dx.par_chunks_mut(item).enumerate().for_each(|(n, o)| {
            let (gi, xi) = (&g[n * item..][..item], &xs[n * item..][..item]);
            let s = lrn.denominators(xi);
            // t_c = g_c x_c s_c^(-beta-1), summed over the windows holding j.
            let t: Vec<f64> = (0..item)
                .map(|i| gi[i] as f64 * xi[i] as f64 * s[i].powf(-lrn.beta - 1.0))
                .collect();
            for j in 0..lrn.channels {
                // Channels c whose window holds j: c - before <= j <= c + after.
                let lo = j.saturating_sub(lrn.after);
                let hi = (j + lrn.before + 1).min(lrn.channels);
                for p in 0..lrn.plane {
                    let i = j * lrn.plane + p;
                    let cross: f64 = (lo..hi).map(|c| t[c * lrn.plane + p]).sum();
                    let direct = gi[i] as f64 * s[i].powf(-lrn.beta);
                    o[i] = (direct - 2.0 * lrn.beta * lrn.alpha_n * xi[i] as f64 * cross) as f32;
                }
            }
        });
    }
    Ok(vec![slot(x.shape(), Some(dx))?])
}

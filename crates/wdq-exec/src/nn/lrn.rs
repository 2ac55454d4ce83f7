//! LRN (local response normalisation across channels), as ONNX defines it:
//! `y_c = x_c / (bias + alpha / size * sum x_k^2) ^ beta`, the sum over
//! channels `k` in `[c - floor((size-1)/2), c + ceil((size-1)/2)]` inside
//! `0..C`. Sums are f64; each item is computed by one task.

use crate::kit::{array, contiguous, f32_input, single};
use crate::{KernelError, KernelResult, TensorValue};
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};
use wdq_ir::op::LrnAttrs;

/// The resolved attributes and layout of an LRN over `[N, C, ...]`,
/// shared by the forward and backward kernels.
pub(crate) struct Lrn {
    pub channels: usize,
    pub plane: usize,
    /// Channels before `c` in its window.
    pub before: usize,
    /// Channels after `c` in its window.
    pub after: usize,
    /// `alpha / size`.
    pub alpha_n: f64,
    pub beta: f64,
    pub bias: f64,
}

impl Lrn {
    /// # Errors
    /// [`KernelError`] for a rank below 2 or a missing or non-positive `size`.
    pub(crate) fn of(attrs: &LrnAttrs, shape: &[usize]) -> Result<Lrn, KernelError> {
        if shape.len() < 2 {
            return Err(KernelError::Shape(format!(
                "LRN input {shape:?} needs rank >= 2"
            )));
        }
        let size = attrs
            .size
            .and_then(|s| usize::try_from(s).ok())
            .filter(|&s| s > 0)
            .ok_or(KernelError::Attribute {
                name: "size",
                why: format!("{:?} must be a positive integer", attrs.size),
            })?;
        let before = (size - 1) / 2;
        Ok(Lrn {
            channels: shape[1],
            plane: shape[2..].iter().product(),
            before,
            after: size - 1 - before,
            alpha_n: attrs.alpha.unwrap_or(1e-4) as f64 / size as f64,
            beta: attrs.beta.unwrap_or(0.75) as f64,
            bias: attrs.bias.unwrap_or(1.0) as f64,
        })
    }

    /// Channels `lo..hi` in the window of channel `c`.
    pub fn window(&self, c: usize) -> (usize, usize) {
        (
            c.saturating_sub(self.before),
            (c + self.after + 1).min(self.channels),
        )
    }

    /// `bias + alpha / size * sum x^2` per element of one item `x`.
    pub fn denominators(&self, x: &[f32]) -> Vec<f64> {
        let mut s = vec![0.0f64; x.len()];
        for c in 0..self.channels {
            let (lo, hi) = self.window(c);
            for p in 0..self.plane {
                let sum: f64 = (lo..hi)
                    .map(|k| (x[k * self.plane + p] as f64).powi(2))
                    .sum();
                s[c * self.plane + p] = self.bias + self.alpha_n * sum;
            }
        }
        s
    }
}

/// LRN forward.
pub(super) fn lrn(attrs: &LrnAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let lrn = Lrn::of(attrs, x.shape())?;
    let src = contiguous(x);
    let item = lrn.channels * lrn.plane;
    let mut out = vec![0.0f32; src.len()];
    if item > 0 {
        out.par_chunks_mut(item).enumerate().for_each(|(n, o)| {
            let xs = &src[n * item..][..item];
            let s = lrn.denominators(xs);
            for i in 0..item {
                o[i] = (xs[i] as f64 * s[i].powf(-lrn.beta)) as f32;
            }
        });
    }
    single(TensorValue::F32(array(x.shape(), out)?))
}

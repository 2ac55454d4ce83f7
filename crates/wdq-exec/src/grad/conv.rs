//! Conv backward (1-D, 2-D and 3-D; groups, depthwise, strides, dilations,
//! pads, auto_pad): `dX`, `dW` and `dB` from `dY`.
//!
//! Per batch item and group: `dX` is `col2im(W_g^T * dY_g)` and the item's
//! share of `dW` is `dY_g * im2col(X_g)^T` (pointwise convolutions skip the
//! patch matrix). Items of `dX` run in parallel. `dW` and `dB` are summed
//! per fixed batch chunk ([`super::BATCH_CHUNKS`]) and the chunk partials
//! added in chunk order, so the bits do not depend on the thread count.

use super::geometry::Window;
use super::im2col::{col2im, im2col};
use super::{chunk_range, expect_shape, slot, BATCH_CHUNKS};
use crate::kit::{contiguous, f32_input};
use crate::nn::conv::check_shapes;
use crate::nn::sgemm::{sgemm, MatMut, MatRef, Threads};
use crate::{KernelError, KernelResult};
use rayon::prelude::{
    IndexedParallelIterator, IntoParallelIterator, ParallelIterator, ParallelSliceMut,
};
use wdq_ir::grad_op::Wanted;
use wdq_ir::op::ConvAttrs;

/// A checked convolution problem.
pub(super) struct Problem {
    pub batch: usize,
    pub cin: usize,
    pub cout: usize,
    pub group: usize,
    pub win: Window,
}

impl Problem {
    fn cg(&self) -> usize {
        self.cin / self.group
    }
    fn mg(&self) -> usize {
        self.cout / self.group
    }
    /// Rows of one group's patch matrix.
    fn k(&self) -> usize {
        self.cg() * self.win.kernel_len()
    }
}

fn problem(attrs: &ConvAttrs, x: &[usize], w: &[usize]) -> Result<Problem, KernelError> {
    let s = check_shapes(attrs, x, w, None)?;
    Ok(Problem {
        batch: s.batch,
        cin: s.in_channels,
        cout: s.out_channels,
        group: s.group,
        win: s.window,
    })
}

/// ConvGrad: inputs `(dY, X, W)`, outputs `(dX, dW, dB)` as wanted.
pub(super) fn conv_grad(
    attrs: &ConvAttrs,
    wanted: Wanted,
    inputs: &[Option<&crate::TensorValue>],
) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    let w = f32_input(inputs, 2)?;
    let p = problem(attrs, x.shape(), w.shape())?;
    let mut y_dims = vec![p.batch, p.cout];
    y_dims.extend_from_slice(p.win.output_dims());
    expect_shape(dy.shape(), &y_dims, "Conv output gradient")?;
    let (dyd, xd, wd) = (contiguous(dy), contiguous(x), contiguous(w));
    let dx = if wanted.get(0) {
        Some(input_grad(&p, &dyd, &wd)?)
    } else {
        None
    };
    let dw = if wanted.get(1) {
        Some(weight_grad(&p, &dyd, &xd)?)
    } else {
        None
    };
    let db = wanted
        .get(2)
        .then(|| bias_grad(&dyd, p.batch, p.cout, p.win.output_len()));
    Ok(vec![
        slot(x.shape(), dx)?,
        slot(w.shape(), dw)?,
        slot(&[p.cout], db)?,
    ])
}

/// Threads for products inside per-item tasks: the pool when items alone
/// cannot keep the threads busy (the bits are the same either way).
pub(super) fn inner_threads(tasks: usize) -> Threads {
    if tasks >= rayon::current_num_threads() {
        Threads::Single
    } else {
        Threads::Pool
    }
}

fn input_grad(p: &Problem, dy: &[f32], w: &[f32]) -> Result<Vec<f32>, KernelError> {
    let (in_plane, out_plane) = (p.win.input_len(), p.win.output_len());
    let (cg, mg, k) = (p.cg(), p.mg(), p.k());
    let item = p.cin * in_plane;
    let mut dx = vec![0.0f32; p.batch * item];
    if item == 0 || out_plane == 0 {
        return Ok(dx);
    }
    let threads = inner_threads(p.batch);
    dx.par_chunks_mut(item)
        .enumerate()
        .try_for_each_init(Vec::new, |col, (n, dx_n)| {
            let dy_n = &dy[n * p.cout * out_plane..(n + 1) * p.cout * out_plane];
            for g in 0..p.group {
                let wg = MatRef::row_major(&w[g * mg * k..(g + 1) * mg * k], mg, k)?.t();
                let dyg = MatRef::row_major(
                    &dy_n[g * mg * out_plane..][..mg * out_plane],
                    mg,
                    out_plane,
                )?;
                let dxg = &mut dx_n[g * cg * in_plane..(g + 1) * cg * in_plane];
                if p.win.is_pointwise() {
                    sgemm(
                        MatMut::row_major(dxg, cg, in_plane)?,
                        wg,
                        dyg,
                        false,
                        1.0,
                        threads,
                    )?;
                    continue;
                }
                col.resize(k * out_plane, 0.0);
                sgemm(
                    MatMut::row_major(col, k, out_plane)?,
                    wg,
                    dyg,
                    false,
                    1.0,
                    threads,
                )?;
                col2im(col, cg, &p.win, dxg);
            }
            Ok::<(), KernelError>(())
        })?;
    Ok(dx)
}

fn weight_grad(p: &Problem, dy: &[f32], x: &[f32]) -> Result<Vec<f32>, KernelError> {
    let (in_plane, out_plane) = (p.win.input_len(), p.win.output_len());
    let (cg, mg, k) = (p.cg(), p.mg(), p.k());
    let size = p.cout * k;
    let chunks = BATCH_CHUNKS.min(p.batch).max(1);
    let threads = inner_threads(chunks);
    let partials: Vec<Vec<f32>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let (n0, n1) = chunk_range(p.batch, chunks, c);
            let mut acc = vec![0.0f32; size];
            let mut col = Vec::new();
            for n in n0..n1 {
                let x_n = &x[n * p.cin * in_plane..(n + 1) * p.cin * in_plane];
                let dy_n = &dy[n * p.cout * out_plane..(n + 1) * p.cout * out_plane];
                for g in 0..p.group {
                    let xg = &x_n[g * cg * in_plane..(g + 1) * cg * in_plane];
                    let dyg = MatRef::row_major(
                        &dy_n[g * mg * out_plane..][..mg * out_plane],
                        mg,
                        out_plane,
                    )?;
                    let patches = if p.win.is_pointwise() {
                        MatRef::row_major(xg, k, out_plane)?
                    } else {
                        col.resize(k * out_plane, 0.0);
                        im2col(xg, cg, &p.win, 0, out_plane, &mut col);
                        MatRef::row_major(&col, k, out_plane)?
                    };
                    let dst = MatMut::row_major(&mut acc[g * mg * k..(g + 1) * mg * k], mg, k)?;
                    sgemm(dst, dyg, patches.t(), true, 1.0, threads)?;
                }
            }
            Ok(acc)
        })
        .collect::<Result<_, KernelError>>()?;
    Ok(sum_in_order(partials, size))
}

/// Adds equally long partial sums in order.
pub(super) fn sum_in_order(partials: Vec<Vec<f32>>, size: usize) -> Vec<f32> {
    let mut parts = partials.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![0.0; size]);
    for part in parts {
        for (t, v) in total.iter_mut().zip(part) {
            *t += v;
        }
    }
    total
}

/// Sum of `dy` (`[batch, channels, plane]`) over batch and plane, per
/// channel, in index order (f64 accumulation).
pub(super) fn bias_grad(dy: &[f32], batch: usize, channels: usize, plane: usize) -> Vec<f32> {
    (0..channels)
        .into_par_iter()
        .map(|c| {
            let mut s = 0.0f64;
            for n in 0..batch {
                let start = (n * channels + c) * plane;
                s += dy[start..start + plane]
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>();
            }
            s as f32
        })
        .collect()
}

//! ConvTranspose backward: `dX`, `dW` and `dB` from `dY`.
//!
//! The forward op is `Y_n = col2im(W^T X_n)` over the adjoint window (whose
//! `input` is this op's output). So `dX_n = W_g * im2col(dY_n)` and the
//! item's share of `dW` is `X_g * im2col(dY_n)^T`, summed per fixed batch
//! chunk and added in chunk order. The window is the forward kernel's
//! (`nn/conv_transpose.rs`).

use super::conv::{bias_grad, inner_threads, sum_in_order};
use super::im2col::im2col;
use super::{chunk_range, expect_shape, slot, BATCH_CHUNKS};
use crate::kit::{contiguous, f32_input};
use crate::nn::conv_transpose::{check_shapes, ConvTransposeShape};
use crate::nn::sgemm::{sgemm, MatMut, MatRef};
use crate::{KernelError, KernelResult, TensorValue};
use rayon::prelude::{
    IndexedParallelIterator, IntoParallelIterator, ParallelIterator, ParallelSliceMut,
};
use wdq_ir::grad_op::Wanted;
use wdq_ir::op::ConvAttrs;

/// ConvTransposeGrad: inputs `(dY, X, W)`, outputs `(dX, dW, dB)` as wanted.
pub(super) fn conv_transpose_grad(
    attrs: &ConvAttrs,
    wanted: Wanted,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    let w = f32_input(inputs, 2)?;
    let ConvTransposeShape {
        batch,
        cin,
        cin_g,
        cout_g,
        cout,
        group,
        win,
        out: y_dims,
    } = check_shapes(attrs, x.shape(), w.shape(), None)?;
    let (in_plane, out_plane) = (win.output_len(), win.input_len());
    let rows = cout_g * win.kernel_len();
    expect_shape(dy.shape(), &y_dims, "ConvTranspose output gradient")?;
    let (dyd, xd, wd) = (contiguous(dy), contiguous(x), contiguous(w));
    let patches = |n: usize, g: usize, col: &mut Vec<f32>| {
        let dyg = &dyd[(n * cout + g * cout_g) * out_plane..][..cout_g * out_plane];
        col.resize(rows * in_plane, 0.0);
        im2col(dyg, cout_g, &win, 0, in_plane, col);
    };
    let mut dx = None;
    if wanted.get(0) {
        let item = cin * in_plane;
        let mut out = vec![0.0f32; batch * item];
        let threads = inner_threads(batch);
        if item > 0 {
            out.par_chunks_mut(item).enumerate().try_for_each_init(
                Vec::new,
                |col, (n, dx_n)| {
                    for g in 0..group {
                        patches(n, g, col);
                        let wg = MatRef::row_major(
                            &wd[g * cin_g * rows..][..cin_g * rows],
                            cin_g,
                            rows,
                        )?;
                        let dst = MatMut::row_major(
                            &mut dx_n[g * cin_g * in_plane..][..cin_g * in_plane],
                            cin_g,
                            in_plane,
                        )?;
                        sgemm(
                            dst,
                            wg,
                            MatRef::row_major(col, rows, in_plane)?,
                            false,
                            1.0,
                            threads,
                        )?;
                    }
                    Ok::<(), KernelError>(())
                },
            )?;
        }
        dx = Some(out);
    }
    let mut dw = None;
    if wanted.get(1) {
        let size = cin * rows;
        let chunks = BATCH_CHUNKS.min(batch).max(1);
        let threads = inner_threads(chunks);
        let partials: Vec<Vec<f32>> = (0..chunks)
            .into_par_iter()
            .map(|c| {
                let (n0, n1) = chunk_range(batch, chunks, c);
                let (mut acc, mut col) = (vec![0.0f32; size], Vec::new());
                for n in n0..n1 {
                    for g in 0..group {
                        patches(n, g, &mut col);
                        let xg = &xd[(n * cin + g * cin_g) * in_plane..][..cin_g * in_plane];
                        let dst = MatMut::row_major(
                            &mut acc[g * cin_g * rows..][..cin_g * rows],
                            cin_g,
                            rows,
                        )?;
                        let lhs = MatRef::row_major(xg, cin_g, in_plane)?;
                        let rhs = MatRef::row_major(&col, rows, in_plane)?.t();
                        sgemm(dst, lhs, rhs, true, 1.0, threads)?;
                    }
                }
                Ok(acc)
            })
            .collect::<Result<_, KernelError>>()?;
        dw = Some(sum_in_order(partials, size));
    }
    let db = wanted
        .get(2)
        .then(|| bias_grad(&dyd, batch, cout, out_plane));
    Ok(vec![
        slot(x.shape(), dx)?,
        slot(w.shape(), dw)?,
        slot(&[cout], db)?,
    ])
}

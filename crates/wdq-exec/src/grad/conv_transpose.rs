//! ConvTranspose backward: `dX`, `dW` and `dB` from `dY`.
//!
//! The forward op is `Y_n = col2im(W^T X_n)` over the adjoint window (whose
//! `input` is this op's output). So `dX_n = W_g * im2col(dY_n)` and the
//! item's share of `dW` is `X_g * im2col(dY_n)^T`, summed per fixed batch
//! chunk and added in chunk order. The window resolution below mirrors the
//! forward kernel's (`nn/conv_transpose.rs`) exactly.

use super::conv::{bias_grad, group_of, inner_threads, sum_in_order};
use super::geometry::{Window, MAX_ATTR, MAX_SPATIAL};
use super::im2col::im2col;
use super::{chunk_range, expect_shape, slot, BATCH_CHUNKS};
use crate::nn::sgemm::{sgemm, MatMut, MatRef};
use crate::nn::{contiguous, f32_input};
use crate::{KernelError, KernelResult, TensorValue};
use rayon::prelude::{
    IndexedParallelIterator, IntoParallelIterator, ParallelIterator, ParallelSliceMut,
};
use wdq_ir::grad_op::Wanted;
use wdq_ir::op::ConvAttrs;

fn ints(
    values: Option<&[i64]>,
    rank: usize,
    default: i64,
    min: i64,
    name: &'static str,
) -> Result<Vec<usize>, KernelError> {
    match values {
        None => Ok(vec![default as usize; rank]),
        Some(v) if v.len() == rank && v.iter().all(|&x| (min..=MAX_ATTR).contains(&x)) => {
            Ok(v.iter().map(|&x| x as usize).collect())
        }
        Some(v) => Err(KernelError::Attribute {
            name,
            why: format!("{v:?} must hold {rank} values in {min}..={MAX_ATTR}"),
        }),
    }
}

fn pad3(v: &[usize], fill: usize) -> [usize; MAX_SPATIAL] {
    let mut out = [fill; MAX_SPATIAL];
    out[MAX_SPATIAL - v.len()..].copy_from_slice(v);
    out
}

/// Resolves the adjoint window of a ConvTranspose over spatial input `input`.
fn window(attrs: &ConvAttrs, input: &[usize], kernel: &[usize]) -> Result<Window, KernelError> {
    let rank = input.len();
    if rank == 0 || rank > MAX_SPATIAL {
        return Err(KernelError::Unsupported(format!(
            "ConvTranspose with {rank} spatial axes"
        )));
    }
    let stride = ints(attrs.strides.as_deref(), rank, 1, 1, "strides")?;
    let dilation = ints(attrs.dilations.as_deref(), rank, 1, 1, "dilations")?;
    let adj = ints(
        attrs.output_padding.as_deref(),
        rank,
        0,
        0,
        "output_padding",
    )?;
    let mode = attrs.auto_pad.as_deref().unwrap_or("NOTSET");
    let explicit = match (mode, attrs.pads.as_deref()) {
        ("NOTSET" | "", Some(p)) => ints(Some(p), 2 * rank, 0, 0, "pads")?,
        ("NOTSET" | "" | "VALID" | "SAME_UPPER" | "SAME_LOWER", _) => vec![0; 2 * rank],
        (other, _) => {
            return Err(KernelError::Attribute {
                name: "auto_pad",
                why: format!("unknown mode {other:?}"),
            })
        }
    };
    let wanted: Option<&[i64]> = match attrs.output_shape.as_deref() {
        Some(s) if s.len() == rank => Some(s),
        Some(s) if s.len() == rank + 2 => Some(&s[2..]),
        Some(s) => {
            return Err(KernelError::Attribute {
                name: "output_shape",
                why: format!("{s:?} does not fit {rank} spatial axes"),
            })
        }
        None => None,
    };
    let (mut begin, mut end, mut output) = (vec![0; rank], vec![0; rank], vec![0; rank]);
    for i in 0..rank {
        if input[i] == 0 {
            return Err(KernelError::Shape(
                "ConvTranspose input has an empty spatial axis".into(),
            ));
        }
        let full = stride[i] * (input[i] - 1) + adj[i] + (kernel[i] - 1) * dilation[i] + 1;
        if let Some(out) = wanted {
            if out[i] < 1 {
                return Err(KernelError::Attribute {
                    name: "output_shape",
                    why: format!("{out:?} must be positive"),
                });
            }
            let total = full.saturating_sub(out[i] as usize);
            let (b, e) = if mode == "SAME_UPPER" {
                (total - total / 2, total / 2)
            } else {
                (total / 2, total - total / 2)
            };
            (begin[i], end[i], output[i]) = (b, e, out[i] as usize);
        } else if mode == "SAME_UPPER" || mode == "SAME_LOWER" {
            let out = input[i] * stride[i];
            let total = full.saturating_sub(out);
            let (b, e) = if mode == "SAME_UPPER" {
                (total / 2, total - total / 2)
            } else {
                (total - total / 2, total / 2)
            };
            (begin[i], end[i], output[i]) = (b, e, out);
        } else {
            let (b, e) = (explicit[i], explicit[i + rank]);
            if full <= b + e {
                return Err(KernelError::Shape(format!(
                    "ConvTranspose pads {b}+{e} leave no output of {full} on axis {i}"
                )));
            }
            (begin[i], end[i], output[i]) = (b, e, full - b - e);
        }
    }
    Ok(Window {
        rank,
        input: pad3(&output, 1),
        kernel: pad3(kernel, 1),
        stride: pad3(&stride, 1),
        dilation: pad3(&dilation, 1),
        pad_begin: pad3(&begin, 0),
        pad_end: pad3(&end, 0),
        output: pad3(input, 1),
    })
}

/// ConvTransposeGrad: inputs `(dY, X, W)`, outputs `(dX, dW, dB)` as wanted.
pub(super) fn conv_transpose_grad(
    attrs: &ConvAttrs,
    wanted: Wanted,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    let w = f32_input(inputs, 2)?;
    let (xs, ws) = (x.shape(), w.shape());
    if xs.len() < 3 || ws.len() != xs.len() {
        return Err(KernelError::Shape(format!(
            "ConvTranspose input {xs:?} and weight {ws:?} need the same rank >= 3"
        )));
    }
    let group = group_of(attrs)?;
    let (batch, cin) = (xs[0], xs[1]);
    if ws[0] != cin || cin % group != 0 {
        return Err(KernelError::Shape(format!(
            "ConvTranspose input {xs:?} and weight {ws:?} do not fit group {group}"
        )));
    }
    let (cin_g, cout_g) = (cin / group, ws[1]);
    let cout = cout_g * group;
    let win = window(attrs, &xs[2..], &ws[2..])?;
    let (in_plane, out_plane) = (win.output_len(), win.input_len());
    let rows = cout_g * win.kernel_len();
    let mut y_dims = vec![batch, cout];
    y_dims.extend_from_slice(&win.input[MAX_SPATIAL - win.rank..]);
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
    Ok(vec![slot(xs, dx)?, slot(ws, dw)?, slot(&[cout], db)?])
}

//! MaxPool, AveragePool (1-D, 2-D and 3-D; pads, strides, dilations,
//! ceil_mode, auto_pad, count_include_pad) and their global forms.
//!
//! For each spatial axis the valid input taps of every output index are
//! listed once; a window is the product of its three lists. AveragePool
//! with `count_include_pad` divides by the taps inside the padded input
//! (a window running past the end padding under `ceil_mode` is clipped to
//! it, as onnxruntime does). An empty MaxPool window yields `f32::MIN`.
//! MaxPool's `Indices` output is not produced (`None`).

use super::geometry::{self, Window, WindowAttrs};
use super::parallel::chunks;
use crate::kit::{array, contiguous, f32_input, single};
use crate::{KernelError, KernelResult, TensorValue};
use wdq_ir::op::PoolAttrs;

/// Which reduction a pool computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolKind {
    Max,
    Average,
}

/// Valid input taps and the padded-window tap count, per output index.
pub(crate) struct AxisTaps {
    pub(crate) taps: Vec<Vec<usize>>,
    pub(crate) padded: Vec<usize>,
}

/// The taps of spatial axis `axis` of `w` (shared with the backward kernels).
pub(crate) fn axis_taps(w: &Window, axis: usize) -> AxisTaps {
    let (k, s, d) = (w.kernel[axis], w.stride[axis], w.dilation[axis]);
    let limit = w.input[axis] + w.pad_begin[axis] + w.pad_end[axis];
    let mut taps = Vec::with_capacity(w.output[axis]);
    let mut padded = Vec::with_capacity(w.output[axis]);
    for o in 0..w.output[axis] {
        taps.push((0..k).filter_map(|j| w.source(axis, o, j)).collect());
        padded.push((0..k).filter(|&j| o * s + j * d < limit).count());
    }
    AxisTaps { taps, padded }
}

/// The pooling window of `attrs` over an input of `shape` (`[N, C, ...]`),
/// shared with the backward kernels.
pub(crate) fn window(attrs: &PoolAttrs, shape: &[usize]) -> Result<Window, KernelError> {
    if shape.len() < 3 {
        return Err(KernelError::Shape(format!(
            "pool input {shape:?} needs rank >= 3"
        )));
    }
    let rank = shape.len() - 2;
    let kernel = match &attrs.kernel_shape {
        Some(k) => geometry::kernel_shape(k, rank)?,
        None => {
            return Err(KernelError::Attribute {
                name: "kernel_shape",
                why: "is required".into(),
            })
        }
    };
    geometry::resolve(
        &shape[2..],
        WindowAttrs {
            auto_pad: attrs.auto_pad.as_deref(),
            kernel: &kernel,
            strides: attrs.strides.as_deref(),
            dilations: attrs.dilations.as_deref(),
            pads: attrs.pads.as_deref(),
            ceil_mode: attrs.ceil_mode.unwrap_or(0) != 0,
        },
    )
}

/// MaxPool or AveragePool.
pub(super) fn pool(
    attrs: &PoolAttrs,
    inputs: &[Option<&TensorValue>],
    kind: PoolKind,
) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let shape = x.shape();
    let win = window(attrs, shape)?;
    let include_pad = attrs.count_include_pad.unwrap_or(0) != 0;
    let axes = [axis_taps(&win, 0), axis_taps(&win, 1), axis_taps(&win, 2)];
    let (in_plane, out_plane) = (win.input_len(), win.output_len());
    let [_, ih_n, iw_n] = win.input;
    let [od_n, oh_n, ow_n] = win.output;
    let src = contiguous(x);
    let mut dims = shape[..2].to_vec();
    dims.extend_from_slice(win.output_dims());
    let mut out = vec![0.0f32; crate::kit::element_count(&dims)?];
    if out_plane > 0 {
        let work = out.len() * win.kernel_len();
        chunks(&mut out, out_plane, work, |p, o| {
            let xp = &src[p * in_plane..(p + 1) * in_plane];
            let mut idx = 0;
            for od in 0..od_n {
                for oh in 0..oh_n {
                    for ow in 0..ow_n {
                        let (td, th, tw) =
                            (&axes[0].taps[od], &axes[1].taps[oh], &axes[2].taps[ow]);
                        o[idx] = match kind {
                            PoolKind::Max => {
                                let mut m = f32::MIN;
                                for &z in td {
                                    for &y in th {
                                        let row = &xp[(z * ih_n + y) * iw_n..];
                                        for &xx in tw {
                                            let v = row[xx];
                                            if v > m || v.is_nan() {
                                                m = v;
                                            }
                                        }
                                    }
                                }
                                m
                            }
                            PoolKind::Average => {
                                let mut sum = 0.0f32;
                                for &z in td {
                                    for &y in th {
                                        let row = &xp[(z * ih_n + y) * iw_n..];
                                        for &xx in tw {
                                            sum += row[xx];
                                        }
                                    }
                                }
                                let count = if include_pad {
                                    axes[0].padded[od] * axes[1].padded[oh] * axes[2].padded[ow]
                                } else {
                                    td.len() * th.len() * tw.len()
                                };
                                if count == 0 {
                                    0.0
                                } else {
                                    sum / count as f32
                                }
                            }
                        };
                        idx += 1;
                    }
                }
            }
        });
    }
    let mut result = vec![Some(TensorValue::F32(array(&dims, out)?))];
    if kind == PoolKind::Max {
        result.push(None);
    }
    Ok(result)
}

/// GlobalAveragePool or GlobalMaxPool: one value per `(n, c)` plane.
pub(super) fn global_pool(inputs: &[Option<&TensorValue>], kind: PoolKind) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(KernelError::Shape(format!(
            "global pool input {shape:?} needs rank >= 2"
        )));
    }
    let plane: usize = shape[2..].iter().product();
    let src = contiguous(x);
    let mut out = vec![0.0f32; shape[0] * shape[1]];
    let per_task = (crate::kit::PARALLEL_MIN / plane.max(1)).max(1);
    chunks(&mut out, per_task, src.len(), |t, o| {
        for (i, v) in o.iter_mut().enumerate() {
            let p = t * per_task + i;
            let data = &src[p * plane..(p + 1) * plane];
            *v = match kind {
                PoolKind::Max => {
                    data.iter()
                        .fold(f32::MIN, |m, &v| if v > m || v.is_nan() { v } else { m })
                }
                PoolKind::Average if plane == 0 => 0.0,
                PoolKind::Average => {
                    (data.iter().map(|&v| v as f64).sum::<f64>() / plane as f64) as f32
                }
            };
        }
    });
    let mut dims = shape[..2].to_vec();
    dims.resize(shape.len(), 1);
    single(TensorValue::F32(array(&dims, out)?))
}

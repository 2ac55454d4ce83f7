//! Pooling backward: MaxPool and AveragePool (1-D to 3-D; pads, strides,
//! dilations, ceil_mode, auto_pad, count_include_pad) and the global forms.
//!
//! The window taps are listed exactly as the forward kernel lists them.
//! MaxPool sends each window's gradient to its first maximum in scan order
//! (as PyTorch; the forward keeps the first of equal values too).
//! AveragePool spreads it evenly over the window's divisor. Planes run in
//! parallel; within a plane outputs are visited in order.

use super::expect_shape;
use crate::kit::{array, contiguous, f32_input, single};
use crate::nn::pool::{axis_taps, window};
use crate::{KernelError, KernelResult, TensorValue};
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};
use wdq_ir::op::PoolAttrs;

/// MaxPoolGrad (`max`) or AveragePoolGrad: inputs `(dY, X)`, output `dX`.
pub(super) fn pool_grad(
    attrs: &PoolAttrs,
    inputs: &[Option<&TensorValue>],
    max: bool,
) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    let shape = x.shape();
    let win = window(attrs, shape)?;
    let mut y_dims = shape[..2].to_vec();
    y_dims.extend_from_slice(win.output_dims());
    expect_shape(dy.shape(), &y_dims, "pool output gradient")?;
    let include_pad = attrs.count_include_pad.unwrap_or(0) != 0;
    let axes = [axis_taps(&win, 0), axis_taps(&win, 1), axis_taps(&win, 2)];
    let (in_plane, out_plane) = (win.input_len(), win.output_len());
    let [_, ih_n, iw_n] = win.input;
    let [od_n, oh_n, ow_n] = win.output;
    let (src, g) = (contiguous(x), contiguous(dy));
    let mut dx = vec![0.0f32; shape[0] * shape[1] * in_plane];
    if in_plane > 0 {
        dx.par_chunks_mut(in_plane)
            .enumerate()
            .for_each(|(p, dxp)| {
                let xp = &src[p * in_plane..(p + 1) * in_plane];
                let gp = &g[p * out_plane..(p + 1) * out_plane];
                let mut idx = 0;
                for od in 0..od_n {
                    for oh in 0..oh_n {
                        for ow in 0..ow_n {
                            let (td, th, tw) =
                                (&axes[0].taps[od], &axes[1].taps[oh], &axes[2].taps[ow]);
                            let gv = gp[idx];
                            idx += 1;
                            if max {
                                let mut best: Option<(usize, f32)> = None;
                                for &z in td {
                                    for &y in th {
                                        let row = (z * ih_n + y) * iw_n;
                                        for &xx in tw {
                                            let v = xp[row + xx];
                                            let better = match best {
                                                None => true,
                                                Some((_, m)) => {
                                                    v > m || (v.is_nan() && !m.is_nan())
                                                }
                                            };
                                            if better {
                                                best = Some((row + xx, v));
                                            }
                                        }
                                    }
                                }
                                if let Some((at, _)) = best {
                                    dxp[at] += gv;
                                }
                            } else {
                                let count = if include_pad {
                                    axes[0].padded[od] * axes[1].padded[oh] * axes[2].padded[ow]
                                } else {
                                    td.len() * th.len() * tw.len()
                                };
                                if count == 0 {
                                    continue;
                                }
                                let share = gv / count as f32;
                                for &z in td {
                                    for &y in th {
                                        let row = (z * ih_n + y) * iw_n;
                                        for &xx in tw {
                                            dxp[row + xx] += share;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            });
    }
    single(TensorValue::F32(array(shape, dx)?))
}

/// GlobalMaxPoolGrad (`max`) or GlobalAveragePoolGrad: inputs `(dY, X)`,
/// output `dX`.
pub(super) fn global_pool_grad(inputs: &[Option<&TensorValue>], max: bool) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(KernelError::Shape(format!(
            "global pool input {shape:?} needs rank >= 2"
        )));
    }
    let mut y_dims = shape[..2].to_vec();
    y_dims.resize(shape.len(), 1);
    expect_shape(dy.shape(), &y_dims, "global pool output gradient")?;
    let plane: usize = shape[2..].iter().product();
    let (src, g) = (contiguous(x), contiguous(dy));
    let mut dx = vec![0.0f32; src.len()];
    if plane > 0 {
        dx.par_chunks_mut(plane).enumerate().for_each(|(p, dxp)| {
            let gv = g[p];
            if max {
                let xp = &src[p * plane..(p + 1) * plane];
                let mut at = 0;
                for (i, &v) in xp.iter().enumerate() {
                    let m = xp[at];
                    if v > m || (v.is_nan() && !m.is_nan()) {
                        at = i;
                    }
                }
                dxp[at] = gv;
            } else {
                dxp.fill(gv / plane as f32);
            }
        });
    }
    single(TensorValue::F32(array(shape, dx)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;

    #[test]
    fn max_pool_ties_go_to_the_first_maximum_in_scan_order() {
        let x = TensorValue::F32(
            ArrayD::from_shape_vec(vec![1, 1, 2, 3], vec![1.0, 5.0, 5.0, 5.0, 0.0, 5.0]).unwrap(),
        );
        let dy =
            TensorValue::F32(ArrayD::from_shape_vec(vec![1, 1, 1, 2], vec![1.0, 10.0]).unwrap());
        let attrs = PoolAttrs {
            kernel_shape: Some(vec![2, 2]),
            ..PoolAttrs::default()
        };
        let dx = pool_grad(&attrs, &[Some(&dy), Some(&x)], true).unwrap();
        let dx = dx[0].as_ref().unwrap().as_f32().unwrap();
        // Window 0 covers (0,0),(0,1),(1,0),(1,1): first 5.0 is (0,1).
        // Window 1 covers (0,1),(0,2),(1,1),(1,2): first 5.0 is (0,1) again.
        assert_eq!(
            dx.iter().copied().collect::<Vec<_>>(),
            vec![0.0, 11.0, 0.0, 0.0, 0.0, 0.0]
        );
    }
}

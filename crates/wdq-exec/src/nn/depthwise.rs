//! Depthwise convolution (one input channel per group, any channel
//! multiplier, rank 1 or 2) as a direct loop: for each output plane and
//! each kernel tap, a scaled shifted row of the input is added to each
//! output row. Planes run in parallel; within a plane the taps are summed in
//! a fixed order after the bias.

use super::conv::ConvShape;
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};

/// Adds the depthwise convolution of `x` by `w` into `y` (which holds the
/// bias). The caller checked `shape` (group = input channels, rank <= 2) and
/// the buffer sizes.
pub(crate) fn depthwise(shape: &ConvShape, x: &[f32], w: &[f32], y: &mut [f32]) {
    let win = &shape.window;
    let (in_plane, out_plane) = (win.input_len(), win.output_len());
    let taps = win.kernel_len();
    let mult = shape.out_per_group();
    let channels = shape.out_channels;
    y.par_chunks_mut(out_plane)
        .enumerate()
        .for_each(|(idx, y_plane)| {
            let (n, m) = (idx / channels, idx % channels);
            let c = m / mult;
            let x_plane = &x[(n * shape.in_channels + c) * in_plane..][..in_plane];
            plane(win, x_plane, &w[m * taps..(m + 1) * taps], y_plane);
        });
}

fn plane(win: &super::geometry::Window, x: &[f32], w: &[f32], y: &mut [f32]) {
    let [_, kh, kw] = win.kernel;
    let [_, oh_n, ow_n] = win.output;
    let iw_n = win.input[2];
    let (sw, dw, pw) = (win.stride[2], win.dilation[2], win.pad_begin[2]);
    let ranges: Vec<(usize, usize)> = (0..kw).map(|kx| win.valid_outputs(2, kx)).collect();
    for oh in 0..oh_n {
        let y_row = &mut y[oh * ow_n..(oh + 1) * ow_n];
        for ky in 0..kh {
            let Some(ih) = win.source(1, oh, ky) else {
                continue;
            };
            let x_row = &x[ih * iw_n..(ih + 1) * iw_n];
            for kx in 0..kw {
                let (lo, hi) = ranges[kx];
                if lo >= hi {
                    continue;
                }
                let weight = w[ky * kw + kx];
                let first = lo * sw + kx * dw - pw;
                let out = &mut y_row[lo..hi];
                if sw == 1 {
                    for (o, v) in out.iter_mut().zip(&x_row[first..first + (hi - lo)]) {
                        *o += weight * v;
                    }
                } else {
                    for (o, v) in out.iter_mut().zip(x_row[first..].iter().step_by(sw)) {
                        *o += weight * v;
                    }
                }
            }
        }
    }
}

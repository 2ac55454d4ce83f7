//! Depthwise convolution (one input channel per group, any channel
//! multiplier, rank 1 or 2) as a direct loop over a zero-padded copy of each
//! input plane. Planes run in parallel; each output is its bias plus the sum
//! of its taps in a fixed order.

use super::conv::ConvShape;
use super::geometry::Window;
use super::parallel::try_chunks;

/// Outputs computed together, kept in registers across all kernel taps.
const LANES: usize = 16;

/// Adds the depthwise convolution of `x` by `w` into `y` (which holds the
/// bias). The caller checked `shape` (group = input channels, rank <= 2) and
/// the buffer sizes.
pub(crate) fn depthwise(shape: &ConvShape, x: &[f32], w: &[f32], y: &mut [f32]) {
    let win = &shape.window;
    let (in_plane, out_plane) = (win.input_len(), win.output_len());
    let taps = win.kernel_len();
    let mult = shape.out_per_group();
    let channels = shape.out_channels;
    let work = y.len() * taps;
    let _ = try_chunks(y, out_plane, work, Vec::new, |padded, idx, y_plane| {
        let (n, m) = (idx / channels, idx % channels);
        let c = m / mult;
        let x_plane = &x[(n * shape.in_channels + c) * in_plane..][..in_plane];
        plane(win, x_plane, &w[m * taps..(m + 1) * taps], y_plane, padded);
        Ok::<(), std::convert::Infallible>(())
    });
}

/// One output plane: the input is copied once into a zero-padded buffer
/// wide enough for whole `LANES` chunks and split by column phase modulo the
/// stride, so the tap loops read contiguous runs with no bounds logic; each
/// chunk of outputs sums its taps in `(ky, kx)` order.
fn plane(win: &Window, x: &[f32], w: &[f32], y: &mut [f32], padded: &mut Vec<f32>) {
    let [_, kh, kw] = win.kernel;
    let [_, oh_n, ow_n] = win.output;
    let [_, ih_n, iw_n] = win.input;
    let (sh, sw) = (win.stride[1], win.stride[2]);
    let (dh, dw) = (win.dilation[1], win.dilation[2]);
    let (ph, pw) = (win.pad_begin[1], win.pad_begin[2]);
    let chunks = ow_n.div_ceil(LANES);
    // Column `col` of the padded plane is stored in phase plane `col % sw` at
    // index `col / sw`, so every tap reads `LANES` consecutive values.
    let width = (chunks * LANES + (kw - 1) * dw / sw).max((pw + iw_n).div_ceil(sw));
    let height = ((oh_n - 1) * sh + (kh - 1) * dh + 1).max(ph + ih_n);
    padded.clear();
    padded.resize(sw * height * width, 0.0);
    for (ih, row) in x.chunks_exact(iw_n).enumerate() {
        if sw == 1 {
            padded[(ih + ph) * width + pw..][..iw_n].copy_from_slice(row);
            continue;
        }
        for (iw, &v) in row.iter().enumerate() {
            let col = iw + pw;
            padded[((col % sw) * height + ih + ph) * width + col / sw] = v;
        }
    }
    for (oh, y_row) in y.chunks_exact_mut(ow_n).enumerate() {
        for chunk in 0..chunks {
            let mut acc = [0.0f32; LANES];
            for ky in 0..kh {
                let row = oh * sh + ky * dh;
                for kx in 0..kw {
                    let weight = w[ky * kw + kx];
                    let (phase, shift) = ((kx * dw) % sw, (kx * dw) / sw);
                    let base = (phase * height + row) * width + chunk * LANES + shift;
                    for (a, v) in acc.iter_mut().zip(&padded[base..base + LANES]) {
                        *a += weight * v;
                    }
                }
            }
            for (o, a) in y_row[chunk * LANES..].iter_mut().zip(acc) {
                *o += a;
            }
        }
    }
}

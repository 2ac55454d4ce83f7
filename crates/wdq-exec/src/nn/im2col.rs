//! Lowering of a sliding window to a matrix product: `im2col` gathers the
//! input patches of a range of output positions into the columns of a
//! matrix, and `col2im` is its adjoint (scatter-add), used by ConvTranspose.
//!
//! Rows of the patch matrix are ordered `(channel, kz, ky, kx)`, matching
//! the weight layout `[out, in / group, kd, kh, kw]`; columns are output
//! positions in row-major `(od, oh, ow)` order.

use super::geometry::Window;

/// One run of output positions sharing `(od, oh)`: `ow` in `ow0..ow1`,
/// starting at column `col` of the tile.
struct Run {
    od: usize,
    oh: usize,
    ow0: usize,
    ow1: usize,
    col: usize,
}

fn runs(w: &Window, p0: usize, p1: usize) -> Vec<Run> {
    let (oh_n, ow_n) = (w.output[1], w.output[2]);
    let mut out = Vec::with_capacity((p1 - p0) / ow_n.max(1) + 2);
    let mut p = p0;
    while p < p1 {
        let ow0 = p % ow_n;
        let row = p / ow_n;
        let ow1 = ow_n.min(ow0 + (p1 - p));
        out.push(Run {
            od: row / oh_n,
            oh: row % oh_n,
            ow0,
            ow1,
            col: p - p0,
        });
        p += ow1 - ow0;
    }
    out
}

/// Fills `col` (`channels * kernel_len` rows of `p1 - p0` columns) with the
/// patches of output positions `p0..p1`, reading `x` (`channels` planes).
///
/// `x` and `col` must have the sizes above (the caller allocates them).
pub(crate) fn im2col(
    x: &[f32],
    channels: usize,
    w: &Window,
    p0: usize,
    p1: usize,
    col: &mut [f32],
) {
    im2col_into(x, channels, w, p0, p1, col, p1 - p0);
}

/// [`im2col`] into a matrix whose rows are `ld >= p1 - p0` apart (a block
/// of columns of a wider matrix): row `r` goes to `col[r * ld..][..p1 - p0]`.
pub(crate) fn im2col_into(
    x: &[f32],
    channels: usize,
    w: &Window,
    p0: usize,
    p1: usize,
    col: &mut [f32],
    ld: usize,
) {
    let tile = p1 - p0;
    let plane = w.input_len();
    let [_, kh, kw] = w.kernel;
    let [_, ih_n, iw_n] = w.input;
    let (sw, dw, pw) = (w.stride[2], w.dilation[2], w.pad_begin[2]);
    if w.kernel[0] == 1 && w.input[0] == 1 && w.stride[1] == 1 && sw == 1 && w.output[2] == iw_n {
        shifted_rows(x, channels, w, p0, p1, col, ld);
        return;
    }
    let runs = runs(w, p0, p1);
    let taps = w.kernel_len();
    for (r, row) in col.chunks_mut(ld).enumerate().take(channels * taps) {
        let row = &mut row[..tile];
        let c = r / taps;
        let tap = r % taps;
        let (kz, ky, kx) = (tap / (kh * kw), (tap / kw) % kh, tap % kw);
        let (lo, hi) = w.valid_outputs(2, kx);
        let xc = &x[c * plane..(c + 1) * plane];
        for run in &runs {
            let dst = &mut row[run.col..run.col + (run.ow1 - run.ow0)];
            let src_row = match (w.source(0, run.od, kz), w.source(1, run.oh, ky)) {
                (Some(iz), Some(iy)) => &xc[(iz * ih_n + iy) * iw_n..(iz * ih_n + iy + 1) * iw_n],
                _ => {
                    dst.fill(0.0);
                    continue;
                }
            };
            let a = lo.clamp(run.ow0, run.ow1);
            let b = hi.clamp(a, run.ow1);
            if a > run.ow0 {
                dst[..a - run.ow0].fill(0.0);
            }
            if b < run.ow1 {
                dst[b - run.ow0..].fill(0.0);
            }
            if a < b {
                let first = a * sw + kx * dw - pw;
                let out = &mut dst[a - run.ow0..b - run.ow0];
                if sw == 1 {
                    copy_row(out, &src_row[first..first + (b - a)]);
                } else {
                    for (o, s) in out.iter_mut().zip(src_row[first..].iter().step_by(sw)) {
                        *o = *s;
                    }
                }
            }
        }
    }
}

/// Copies `src` into `dst` (equal lengths); short rows are moved in fixed
/// blocks of 8 rather than through a `memcpy` call, which costs more than
/// the copy for the few values of a small image row.
#[inline]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    if dst.len() >= 64 {
        dst.copy_from_slice(src);
        return;
    }
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d8, s8) in (&mut d).zip(&mut s) {
        let block: [f32; 8] = [s8[0], s8[1], s8[2], s8[3], s8[4], s8[5], s8[6], s8[7]];
        d8.copy_from_slice(&block);
    }
    for (x, y) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *x = *y;
    }
}

/// [`im2col`] for a 1-D or 2-D window with unit strides whose output rows
/// are as wide as the input rows (e.g. 3x3 with pads 1): each patch row is
/// then the input plane shifted by a constant offset, so it is one
/// contiguous copy, after which the few positions that wrapped around a row
/// edge or fell in the padding are zeroed.
fn shifted_rows(
    x: &[f32],
    channels: usize,
    w: &Window,
    p0: usize,
    p1: usize,
    col: &mut [f32],
    ld: usize,
) {
    let tile = p1 - p0;
    let plane = w.input_len() as isize;
    let kw = w.kernel[2];
    let row_len = w.output[2];
    let (dh, dw) = (w.dilation[1], w.dilation[2]);
    let (ph, pw) = (w.pad_begin[1], w.pad_begin[2]);
    let taps = w.kernel_len();
    for (r, row) in col.chunks_mut(ld).enumerate().take(channels * taps) {
        let row = &mut row[..tile];
        let (c, tap) = (r / taps, r % taps);
        let (ky, kx) = (tap / kw, tap % kw);
        let xc = &x[c * plane as usize..(c + 1) * plane as usize];
        let shift = (ky * dh * row_len + kx * dw) as isize - (ph * row_len + pw) as isize;
        let (oh_lo, oh_hi) = w.valid_outputs(1, ky);
        let (ow_lo, ow_hi) = w.valid_outputs(2, kx);
        // Positions on valid output rows, then those whose source is in the plane.
        let a = (oh_lo * row_len).clamp(p0, p1);
        let b = (oh_hi * row_len).clamp(a, p1);
        let a2 = (a as isize).max(-shift).min(b as isize) as usize;
        let b2 = (b as isize).min(plane - shift).max(a2 as isize) as usize;
        row[..a2 - p0].fill(0.0);
        row[b2 - p0..].fill(0.0);
        if a2 < b2 {
            // a2 >= -shift and b2 <= plane - shift: the source lies in the plane.
            let src = (a2 as isize + shift) as usize;
            row[a2 - p0..b2 - p0].copy_from_slice(&xc[src..src + (b2 - a2)]);
        }
        if a < b && (ow_lo > 0 || ow_hi < row_len) {
            for oh in a / row_len..=(b - 1) / row_len {
                let start = oh * row_len;
                let wrapped = (start..start + ow_lo).chain(start + ow_hi..start + row_len);
                for p in wrapped.filter(|p| (a..b).contains(p)) {
                    row[p - p0] = 0.0;
                }
            }
        }
    }
}

/// Adds the columns of `col` (`channels * kernel_len` rows of
/// `w.output_len()` columns) back into the planes of `y` (`channels` planes
/// of `w.input_len()`), the adjoint of [`im2col`].
pub(crate) fn col2im(col: &[f32], channels: usize, w: &Window, y: &mut [f32]) {
    let total = w.output_len();
    let plane = w.input_len();
    let [_, kh, kw] = w.kernel;
    let [_, ih_n, iw_n] = w.input;
    let (sw, dw, pw) = (w.stride[2], w.dilation[2], w.pad_begin[2]);
    let runs = runs(w, 0, total);
    let taps = w.kernel_len();
    for (r, row) in col
        .chunks_exact(total.max(1))
        .enumerate()
        .take(channels * taps)
    {
        let c = r / taps;
        let tap = r % taps;
        let (kz, ky, kx) = (tap / (kh * kw), (tap / kw) % kh, tap % kw);
        let (lo, hi) = w.valid_outputs(2, kx);
        let yc = &mut y[c * plane..(c + 1) * plane];
        for run in &runs {
            let (Some(iz), Some(iy)) = (w.source(0, run.od, kz), w.source(1, run.oh, ky)) else {
                continue;
            };
            let a = lo.clamp(run.ow0, run.ow1);
            let b = hi.clamp(a, run.ow1);
            if a >= b {
                continue;
            }
            let dst_row = &mut yc[(iz * ih_n + iy) * iw_n..(iz * ih_n + iy + 1) * iw_n];
            let first = a * sw + kx * dw - pw;
            let src = &row[run.col + (a - run.ow0)..run.col + (b - run.ow0)];
            if sw == 1 {
                for (o, s) in dst_row[first..first + (b - a)].iter_mut().zip(src) {
                    *o += *s;
                }
            } else {
                for (o, s) in dst_row[first..].iter_mut().step_by(sw).zip(src) {
                    *o += *s;
                }
            }
        }
    }
}

//! Softmax and LogSoftmax.
//!
//! From opset 13 the op normalises along `axis` (default -1). Before, the
//! input is read as a 2-D matrix `[prod(dims[..axis]), prod(dims[axis..])]`
//! (default axis 1) and each row is normalised. Each normalised line is
//! computed by one task: max, then the sum of exponentials in index order.

use super::parallel::chunks;
use crate::kit::{array, contiguous, f32_input, norm_axis, single};
use crate::{KernelContext, KernelResult, TensorValue};
use wdq_ir::op::AxisAttrs;

/// Normalises `len` values at `data[offset + i * stride]` into `out` likewise.
fn line(src: &[f32], out: &mut [f32], offset: usize, stride: usize, len: usize, log: bool) {
    let max = (0..len)
        .map(|i| src[offset + i * stride])
        .fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for i in 0..len {
        let e = (src[offset + i * stride] - max).exp();
        out[offset + i * stride] = e;
        sum += e;
    }
    if log {
        let log_sum = sum.ln();
        for i in 0..len {
            out[offset + i * stride] = src[offset + i * stride] - max - log_sum;
        }
    } else {
        for i in 0..len {
            out[offset + i * stride] /= sum;
        }
    }
}

/// Softmax (`log = false`) or LogSoftmax (`log = true`).
pub(super) fn softmax(
    attrs: &AxisAttrs,
    ctx: KernelContext,
    inputs: &[Option<&TensorValue>],
    log: bool,
) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let shape = x.shape();
    let default = if ctx.opset >= 13 { -1 } else { 1 };
    let axis = norm_axis(attrs.axis.unwrap_or(default), shape.len(), "axis")?;
    let src = contiguous(x);
    // Each normalised line has `len` values `inner` apart; blocks of
    // `len * inner` values are independent.
    let (len, inner) = if ctx.opset >= 13 {
        (shape[axis], shape[axis + 1..].iter().product::<usize>())
    } else {
        (shape[axis..].iter().product::<usize>(), 1)
    };
    let mut out = vec![0.0f32; src.len()];
    let block = len * inner;
    if block > 0 {
        chunks(&mut out, block, 3 * src.len(), |o, out_block| {
            let src_block = &src[o * block..(o + 1) * block];
            for j in 0..inner {
                line(src_block, out_block, j, inner, len, log);
            }
        });
    }
    single(TensorValue::F32(array(shape, out)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;

    #[test]
    fn rows_sum_to_one_and_log_matches() {
        let x = TensorValue::F32(
            ArrayD::from_shape_vec(vec![2, 3, 2], (0..12).map(|v| v as f32 * 0.3).collect())
                .unwrap(),
        );
        let ctx = KernelContext { opset: 13 };
        let a = AxisAttrs { axis: Some(1) };
        let y = softmax(&a, ctx, &[Some(&x)], false)
            .unwrap()
            .remove(0)
            .unwrap();
        let y = y.as_f32().unwrap();
        for n in 0..2 {
            for w in 0..2 {
                let s: f32 = (0..3).map(|c| y[[n, c, w]]).sum();
                assert!((s - 1.0).abs() < 1e-6);
            }
        }
        let l = softmax(&a, ctx, &[Some(&x)], true)
            .unwrap()
            .remove(0)
            .unwrap();
        for (p, q) in y.iter().zip(l.as_f32().unwrap().iter()) {
            assert!((p.ln() - q).abs() < 1e-5);
        }
        // opset 11, axis 1 on a 3-D input: normalised over the last 6 values.
        let old = softmax(&a, KernelContext { opset: 11 }, &[Some(&x)], false)
            .unwrap()
            .remove(0)
            .unwrap();
        let s: f32 = old.as_f32().unwrap().iter().take(6).sum();
        assert!((s - 1.0).abs() < 1e-6);
    }
}

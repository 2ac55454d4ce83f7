//! The arithmetic of ONNX `QuantizeLinear` / `DequantizeLinear`, exactly as
//! onnxruntime's CPU kernels compute it in `f32`:
//!
//! - quantize: `q = clamp(round_half_to_even(x / scale) + zero_point, qmin, qmax)`,
//!   where `x / scale` is one `f32` division (not a multiplication by
//!   `1 / scale`, which differs in the last bit);
//! - dequantize: `y = (q - zero_point) as f32 * scale`, one `f32`
//!   multiplication;
//! - NaN quantizes to `qmin` and +/-infinity saturate, as onnxruntime does;
//! - a dequantized zero is `+0.0`, never `-0.0`.
//!
//! [`fake_quantize`] is quantize followed by dequantize, computed without
//! leaving `f32` and bit-identical to running the two ONNX ops in sequence.
//! Per-channel parameters broadcast along their axis for any rank.

use ndarray::{Array, ArrayBase, ArrayView, ArrayViewMut, Data, Dimension};

use crate::error::{QuantError, Result};
use crate::params::QuantParams;
use crate::spec::QuantSpec;

/// `x / scale` rounded half to even and clamped to the codes of `spec`
/// shifted by `-zero_point`, as an exact small integer in `f32`.
/// NaN maps to `lo`; the result is never `-0.0`.
#[inline]
fn centered_code(x: f32, scale: f32, lo: f32, hi: f32) -> f32 {
    // Clamping before rounding is what onnxruntime's vector kernel does, and
    // equals clamping after, as `lo` and `hi` are integers. `f32::max`
    // returns the other operand for NaN, so NaN lands on `lo`. Then, with
    // |c| <= 2^17, `c + 1.5 * 2^23` lies where the f32 spacing is 1, so the
    // addition rounds c to an integer, half to even (the offset is even),
    // and the subtraction is exact and gives +0.0 for zero. This is
    // `round_ties_even` without a libm call, so the loop vectorizes.
    const ROUNDER: f32 = 12_582_912.0;
    let c = (x / scale).max(lo).min(hi);
    (c + ROUNDER) - ROUNDER
}

/// Bounds of `centered_code` for one channel.
#[inline]
fn centered_bounds(spec: QuantSpec, zero_point: i32) -> (f32, f32) {
    (
        (spec.qmin() - zero_point) as f32,
        (spec.qmax() - zero_point) as f32,
    )
}

/// Quantizes one value: `clamp(round_half_to_even(x / scale) + zero_point)`.
/// NaN gives `spec.qmin()`. The caller is responsible for a valid scale and
/// zero point; with others the result is still defined but meaningless.
pub fn quantize_value(x: f32, scale: f32, zero_point: i32, spec: QuantSpec) -> i32 {
    let (lo, hi) = centered_bounds(spec, zero_point);
    centered_code(x, scale, lo, hi) as i32 + zero_point
}

/// Dequantizes one code: `(q - zero_point) as f32 * scale`.
pub fn dequantize_value(q: i32, scale: f32, zero_point: i32) -> f32 {
    (i64::from(q) - i64::from(zero_point)) as f32 * scale
}

/// Quantizes then dequantizes one value, bit-identical to
/// `dequantize_value(quantize_value(x, ..), ..)`.
pub fn fake_quantize_value(x: f32, scale: f32, zero_point: i32, spec: QuantSpec) -> f32 {
    let (lo, hi) = centered_bounds(spec, zero_point);
    centered_code(x, scale, lo, hi) * scale
}

/// Quantizes a tensor (ONNX `QuantizeLinear`), returning the codes as `i32`.
///
/// # Errors
/// When `params` is invalid or does not fit the shape of `x`
/// (see [`QuantParams::layout`]).
pub fn quantize<D: Dimension>(
    x: &ArrayView<f32, D>,
    params: &QuantParams,
) -> Result<Array<i32, D>> {
    let layout = params.layout(x.shape())?;
    let input = x.as_standard_layout();
    let src = standard_slice(&input)?;
    let mut out = vec![0i32; src.len()];
    layout.for_each_block(|c, range| {
        let (scale, zp) = (params.scales[c], params.zero_points[c]);
        let (lo, hi) = centered_bounds(params.spec, zp);
        for (o, &v) in out[range.clone()].iter_mut().zip(&src[range]) {
            *o = centered_code(v, scale, lo, hi) as i32 + zp;
        }
    });
    shaped(x.raw_dim(), out)
}

/// Dequantizes codes (ONNX `DequantizeLinear`). Codes outside the grid are
/// dequantized as they are, not clamped.
///
/// # Errors
/// When `params` is invalid or does not fit the shape of `q`.
pub fn dequantize<D: Dimension>(
    q: &ArrayView<i32, D>,
    params: &QuantParams,
) -> Result<Array<f32, D>> {
    let layout = params.layout(q.shape())?;
    let input = q.as_standard_layout();
    let src = standard_slice(&input)?;
    let mut out = vec![0f32; src.len()];
    layout.for_each_block(|c, range| {
        let (scale, zp) = (params.scales[c], params.zero_points[c]);
        for (o, &v) in out[range.clone()].iter_mut().zip(&src[range]) {
            *o = dequantize_value(v, scale, zp);
        }
    });
    shaped(q.raw_dim(), out)
}

/// Quantizes then dequantizes a tensor, bit-identical to ONNX
/// `QuantizeLinear` followed by `DequantizeLinear` in onnxruntime.
///
/// # Errors
/// When `params` is invalid or does not fit the shape of `x`.
pub fn fake_quantize<D: Dimension>(
    x: &ArrayView<f32, D>,
    params: &QuantParams,
) -> Result<Array<f32, D>> {
    let mut out = x.as_standard_layout().into_owned();
    fake_quantize_in_place(&mut out.view_mut(), params)?;
    Ok(out)
}

/// [`fake_quantize`] in place, on any view (contiguous row-major views take
/// the fast path).
///
/// # Errors
/// When `params` is invalid or does not fit the shape of `x`; `x` is then
/// unchanged.
pub fn fake_quantize_in_place<D: Dimension>(
    x: &mut ArrayViewMut<f32, D>,
    params: &QuantParams,
) -> Result<()> {
    let shape = x.shape().to_vec();
    if let Some(data) = x.as_slice_mut() {
        return fake_quantize_slice(data, &shape, params);
    }
    let mut copy = x.as_standard_layout().into_owned();
    fake_quantize_in_place(&mut copy.view_mut(), params)?;
    x.assign(&copy);
    Ok(())
}

/// [`fake_quantize`] in place on a flat row-major buffer of shape `shape`:
/// the executor's fast path.
///
/// # Errors
/// [`QuantError::LengthMismatch`] when `data.len()` is not the product of
/// `shape`; otherwise as [`QuantParams::layout`]. `data` is then unchanged.
pub fn fake_quantize_slice(data: &mut [f32], shape: &[usize], params: &QuantParams) -> Result<()> {
    let layout = params.layout(shape)?;
    let expected: usize = shape.iter().product();
    if data.len() != expected {
        return Err(QuantError::LengthMismatch {
            what: "buffer versus shape",
            expected,
            found: data.len(),
        });
    }
    layout.for_each_block(|c, range| {
        let (scale, zp) = (params.scales[c], params.zero_points[c]);
        let (lo, hi) = centered_bounds(params.spec, zp);
        for v in &mut data[range] {
            *v = centered_code(*v, scale, lo, hi) * scale;
        }
    });
    Ok(())
}

/// The flat slice of a standard-layout array.
fn standard_slice<S: Data, D: Dimension>(a: &ArrayBase<S, D>) -> Result<&[S::Elem]> {
    // `as_standard_layout` guarantees a slice; the error arm only keeps this
    // function total.
    a.as_slice().ok_or(QuantError::LengthMismatch {
        what: "non-contiguous tensor",
        expected: a.len(),
        found: 0,
    })
}

/// A row-major array of shape `dim` from `data`.
fn shaped<T, D: Dimension>(dim: D, data: Vec<T>) -> Result<Array<T, D>> {
    let found = data.len();
    Array::from_shape_vec(dim, data).map_err(|_| QuantError::LengthMismatch {
        what: "output buffer versus shape",
        expected: found,
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array3, ArrayD, Axis, IxDyn};

    #[test]
    fn round_half_to_even_ties() {
        let spec = QuantSpec::INT8;
        let q = |x: f32| quantize_value(x, 1.0, 0, spec);
        assert_eq!(
            [q(0.5), q(1.5), q(2.5), q(-0.5), q(-1.5), q(-2.5), q(3.5)],
            [0, 2, 2, 0, -2, -2, 4]
        );
        // Ties after a division by a non-unit scale.
        assert_eq!(quantize_value(0.25, 0.5, 0, spec), 0);
        assert_eq!(quantize_value(0.75, 0.5, 0, spec), 2);
        assert_eq!(quantize_value(-1.25, 0.5, 0, spec), -2);
        // The zero point is added after rounding.
        assert_eq!(quantize_value(0.5, 1.0, 3, QuantSpec::UINT8), 3);
        assert_eq!(quantize_value(1.5, 1.0, 3, QuantSpec::UINT8), 5);
    }

    #[test]
    fn rounding_trick_equals_round_ties_even_on_the_whole_16_bit_grid() {
        for (spec, zp) in [
            (QuantSpec::INT16, 0),
            (QuantSpec::UINT16, 0),
            (QuantSpec::UINT16, 65535),
        ] {
            let (lo, hi) = ((spec.qmin() - zp) as f32, (spec.qmax() - zp) as f32);
            for i in -4 * 70_000..=4 * 70_000 {
                let x = i as f32 * 0.25;
                let want = x.round_ties_even().clamp(lo, hi) as i32 + zp;
                assert_eq!(quantize_value(x, 1.0, zp, spec), want, "{x}");
                let x = x + 0.1;
                let want = x.round_ties_even().clamp(lo, hi) as i32 + zp;
                assert_eq!(quantize_value(x, 1.0, zp, spec), want, "{x}");
            }
        }
    }

    #[test]
    fn saturation_nan_and_infinity() {
        let i4 = QuantSpec::INT4;
        assert_eq!(quantize_value(7.49, 1.0, 0, i4), 7);
        assert_eq!(quantize_value(7.5, 1.0, 0, i4), 7);
        assert_eq!(quantize_value(100.0, 1.0, 0, i4), 7);
        assert_eq!(quantize_value(-8.5, 1.0, 0, i4), -8);
        assert_eq!(quantize_value(-1e30, 1.0, 0, i4), -8);
        assert_eq!(quantize_value(f32::INFINITY, 1.0, 0, i4), 7);
        assert_eq!(quantize_value(f32::NEG_INFINITY, 1.0, 0, i4), -8);
        assert_eq!(quantize_value(f32::NAN, 1.0, 0, i4), -8);
        let u8s = QuantSpec::UINT8;
        assert_eq!(quantize_value(-5.0, 0.1, 10, u8s), 0);
        assert_eq!(quantize_value(30.0, 0.1, 10, u8s), 255);
        assert_eq!(quantize_value(f32::NAN, 0.1, 10, u8s), 0);
        let narrow = QuantSpec::INT8.with_narrow_range(true);
        assert_eq!(quantize_value(-200.0, 1.0, 0, narrow), -127);
        assert_eq!(fake_quantize_value(f32::NAN, 0.5, 10, u8s), -5.0);
    }

    #[test]
    fn divides_rather_than_multiplies_by_reciprocal() {
        // x / s is exactly the tie -32.5 (-> -32), while x * (1 / s) is
        // -32.500004 (-> -33).
        let (x, s) = (-0.856_776_7_f32, 0.026_362_36_f32);
        assert_eq!(x / s, -32.5);
        assert_eq!(x * (1.0 / s), -32.500004);
        assert_eq!(quantize_value(x, s, 0, QuantSpec::INT8), -32);
    }

    #[test]
    fn dequantized_zero_is_positive() {
        let y = fake_quantize_value(-0.1, 1.0, 0, QuantSpec::INT8);
        assert_eq!(y.to_bits(), 0f32.to_bits());
        assert_eq!(dequantize_value(5, 0.3, 5).to_bits(), 0);
    }

    #[test]
    fn per_channel_axis_0_and_1() {
        let spec = QuantSpec::INT8;
        let x = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| {
            (i * 12 + j * 4 + k) as f32 * 0.7 - 8.0
        });
        for axis in 0..3 {
            let n = x.shape()[axis];
            let scales: Vec<f32> = (0..n).map(|c| 0.05 + 0.1 * c as f32).collect();
            let zps: Vec<i32> = (0..n).map(|c| c as i32 - 1).collect();
            let p = QuantParams::per_channel(scales.clone(), zps.clone(), axis, spec).unwrap();
            let q = quantize(&x.view(), &p).unwrap();
            let y = fake_quantize(&x.view(), &p).unwrap();
            for ((idx, &v), (&qv, &yv)) in x.indexed_iter().zip(q.iter().zip(y.iter())) {
                let c = [idx.0, idx.1, idx.2][axis];
                assert_eq!(qv, quantize_value(v, scales[c], zps[c], spec));
                assert_eq!(
                    yv.to_bits(),
                    dequantize_value(qv, scales[c], zps[c]).to_bits()
                );
            }
            assert_eq!(dequantize(&q.view(), &p).unwrap(), y);
        }
    }

    #[test]
    fn non_contiguous_views_and_dynamic_rank() {
        let spec = QuantSpec::UINT8;
        let x = ArrayD::from_shape_fn(IxDyn(&[3, 5]), |i| (i[0] as f32 - i[1] as f32) * 0.37);
        let t = x.t();
        let p = QuantParams::per_channel(
            vec![0.1, 0.2, 0.3, 0.4, 0.5],
            vec![100, 90, 80, 70, 60],
            0,
            spec,
        )
        .unwrap();
        let y = fake_quantize(&t, &p).unwrap();
        let mut z = x.clone();
        let mut zt = z.view_mut().reversed_axes();
        fake_quantize_in_place(&mut zt, &p).unwrap();
        assert_eq!(zt, y);
        for (c, lane) in t.axis_iter(Axis(0)).enumerate() {
            for (a, b) in lane.iter().zip(y.index_axis(Axis(0), c)) {
                assert_eq!(
                    fake_quantize_value(*a, p.scales[c], p.zero_points[c], spec),
                    *b
                );
            }
        }
    }

    #[test]
    fn slice_checks_length_and_shape() {
        let p = QuantParams::per_channel(vec![1.0, 2.0], vec![0, 0], 1, QuantSpec::INT8).unwrap();
        let mut data = [0.4f32, 2.9, 1.5, -3.0];
        assert!(fake_quantize_slice(&mut data, &[2, 3], &p).is_err());
        assert!(fake_quantize_slice(&mut data[..3], &[2, 2], &p).is_err());
        fake_quantize_slice(&mut data, &[2, 2], &p).unwrap();
        assert_eq!(data, [0.0, 2.0, 2.0, -4.0]);
        let scalar = arr1(&[2.5f32]);
        let t = QuantParams::per_tensor(1.0, 0, QuantSpec::INT8).unwrap();
        assert_eq!(quantize(&scalar.view(), &t).unwrap(), arr1(&[2]));
    }
}

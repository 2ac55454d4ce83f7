//! Bias quantization: int32 codes with scale `s_x * s_w` (input scale times
//! weight scale, per output channel), zero point 0, rounded half to even and
//! saturated to the `i32` range. This is the convention of QDQ models in
//! onnxruntime, whose integer kernels add the bias straight to the int32
//! accumulator of `(x - zp_x) * (w - zp_w)`.
//!
//! Division and product are `f32`, like onnxruntime's quantization tooling
//! (`bias / (input_scale * weight_scale)` in float32, rounded with
//! `numpy.round`); dequantization is `DequantizeLinear` on int32.

use crate::error::{QuantError, Result};
use crate::params::check_scale;

/// A quantized bias: one int32 code per element and one scale per element
/// (per-channel weights) or one in all (per-tensor weights). Zero points are 0.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedBias {
    /// The int32 codes.
    pub values: Vec<i32>,
    /// `s_x * s_w`, one per channel or a single one.
    pub scales: Vec<f32>,
}

/// The bias scales `input_scale * weight_scales[c]`, computed in `f32`.
///
/// # Errors
/// [`QuantError::InvalidScale`] when an input scale or a product is not a
/// finite, normal, positive `f32` (a product can underflow or overflow).
pub fn bias_scales(input_scale: f32, weight_scales: &[f32]) -> Result<Vec<f32>> {
    check_scale(0, input_scale)?;
    weight_scales
        .iter()
        .enumerate()
        .map(|(index, &w)| {
            check_scale(index, w)?;
            let s = input_scale * w;
            check_scale(index, s)?;
            Ok(s)
        })
        .collect()
}

/// One bias value: `round_half_to_even(b / scale)` saturated to `i32`.
/// NaN gives 0; callers that must reject it use [`quantize_bias`].
pub fn quantize_bias_value(b: f32, scale: f32) -> i32 {
    // `as` saturates float-to-int conversions.
    (b / scale).round_ties_even() as i32
}

/// Quantizes a bias of `bias.len()` output channels for an input with scale
/// `input_scale` and a weight with one scale (per tensor) or one per channel.
///
/// # Errors
/// [`QuantError::LengthMismatch`] when `weight_scales` has neither 1 nor
/// `bias.len()` elements; [`QuantError::NonFinite`] for a NaN or infinite
/// bias; as [`bias_scales`] for bad scales.
pub fn quantize_bias(
    bias: &[f32],
    input_scale: f32,
    weight_scales: &[f32],
) -> Result<QuantizedBias> {
    let scales = bias_scales(input_scale, weight_scales)?;
    if scales.len() != 1 && scales.len() != bias.len() {
        return Err(QuantError::LengthMismatch {
            what: "weight scales versus bias channels",
            expected: bias.len(),
            found: scales.len(),
        });
    }
    let values = bias
        .iter()
        .enumerate()
        .map(|(c, &b)| {
            if !b.is_finite() {
                return Err(QuantError::NonFinite {
                    what: "bias element",
                    value: f64::from(b),
                });
            }
            Ok(quantize_bias_value(b, scale_of(&scales, c)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(QuantizedBias { values, scales })
}

/// `DequantizeLinear` of int32 bias codes: `q as f32 * scale`.
///
/// # Errors
/// [`QuantError::LengthMismatch`] when `scales` has neither 1 nor
/// `values.len()` elements.
pub fn dequantize_bias(values: &[i32], scales: &[f32]) -> Result<Vec<f32>> {
    if scales.len() != 1 && scales.len() != values.len() {
        return Err(QuantError::LengthMismatch {
            what: "bias scales versus bias channels",
            expected: values.len(),
            found: scales.len(),
        });
    }
    Ok(values
        .iter()
        .enumerate()
        .map(|(c, &q)| q as f32 * scale_of(scales, c))
        .collect())
}

/// Quantizes then dequantizes a bias, bit-identical to what an emitted
/// `DequantizeLinear` of the int32 bias yields in onnxruntime.
///
/// # Errors
/// As [`quantize_bias`].
pub fn fake_quantize_bias(
    bias: &[f32],
    input_scale: f32,
    weight_scales: &[f32],
) -> Result<Vec<f32>> {
    let q = quantize_bias(bias, input_scale, weight_scales)?;
    dequantize_bias(&q.values, &q.scales)
}

impl QuantizedBias {
    /// The scale of channel `c`.
    pub fn scale(&self, c: usize) -> f32 {
        scale_of(&self.scales, c)
    }
}

/// Channel `c`'s scale from a list of one or one per channel (the caller
/// checked the length; an out-of-range `c` falls back to the last scale).
fn scale_of(scales: &[f32], c: usize) -> f32 {
    scales.get(c).or(scales.last()).copied().unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_bias() {
        let q = quantize_bias(&[0.5, -0.25, 1.0], 0.5, &[0.25, 0.5, 1.0]).unwrap();
        assert_eq!(q.scales, vec![0.125, 0.25, 0.5]);
        assert_eq!(q.values, vec![4, -1, 2]);
        assert_eq!(
            fake_quantize_bias(&[0.5, -0.25, 1.0], 0.5, &[0.25, 0.5, 1.0]).unwrap(),
            vec![0.5, -0.25, 1.0]
        );
        let t = quantize_bias(&[0.3, 0.1], 0.1, &[1.0]).unwrap();
        assert_eq!(t.scales.len(), 1);
        assert_eq!(t.scale(1), 0.1);
    }

    #[test]
    fn ties_and_saturation() {
        let q = quantize_bias(&[0.5, 1.5, 2.5, -0.5, -2.5, 1e30, -1e30], 1.0, &[1.0]).unwrap();
        assert_eq!(q.values, vec![0, 2, 2, 0, -2, i32::MAX, i32::MIN]);
        let big = dequantize_bias(&[i32::MAX], &[1.0]).unwrap();
        assert_eq!(big, vec![2147483648.0]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            quantize_bias(&[1.0, 2.0], 0.1, &[1.0, 2.0, 3.0]),
            Err(QuantError::LengthMismatch { .. })
        ));
        assert!(matches!(
            quantize_bias(&[f32::NAN], 0.1, &[1.0]),
            Err(QuantError::NonFinite { .. })
        ));
        assert!(matches!(
            quantize_bias(&[1.0], 0.0, &[1.0]),
            Err(QuantError::InvalidScale { .. })
        ));
        assert!(matches!(
            quantize_bias(&[1.0], 1e-30, &[1e-30]),
            Err(QuantError::InvalidScale { .. })
        ));
        assert!(dequantize_bias(&[1, 2], &[1.0, 2.0, 3.0]).is_err());
    }
}

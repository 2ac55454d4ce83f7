//! Choosing scales and zero points.
//!
//! - Weights: symmetric. The zero point is [`QuantSpec::symmetric_zero_point`]
//!   (0 when signed), and the scale maps `max |w|` onto
//!   `h = 2^(b-1) - 1` ([`QuantSpec::symmetric_half_range`]): with
//!   [`ScaleMode::Float`] `scale = max|w| / h`; with
//!   [`ScaleMode::PowerOfTwo`] `scale = 2^-n` for the largest fraction length
//!   `n` such that `max|w| <= h * 2^-n`, i.e. the finest Qm.n grid whose range
//!   `[-2^m, 2^m - 2^-n]` still covers the largest weight.
//! - Activations: asymmetric, from an observed `(min, max)` widened to
//!   include 0, so that 0 is exactly representable.
//!
//! Degenerate ranges: an all-zero tensor or channel gets scale
//! [`ZERO_RANGE_SCALE`] (1.0 = 2^0, accepted by onnxruntime and a power of
//! two). A float scale too small to be a normal `f32` is raised to
//! `f32::MIN_POSITIVE`; a power-of-two scale never goes below 2^-126.

use ndarray::{ArrayView, Axis, Dimension};

use crate::error::{QuantError, Result};
use crate::params::{Granularity, QuantParams};
use crate::spec::QuantSpec;

/// The scale given to an all-zero tensor or channel.
pub const ZERO_RANGE_SCALE: f32 = 1.0;

/// Largest fraction length: 2^-126 is the smallest normal `f32`.
const MAX_FRACTION_LENGTH: i32 = 126;
/// Smallest fraction length: 2^127 is the largest power of two in `f32`.
const MIN_FRACTION_LENGTH: i32 = -127;

/// How scales are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ScaleMode {
    /// Any positive `f32`: the range maps exactly onto the grid.
    #[default]
    Float,
    /// A power of two `2^-n` (fixed point with fraction length `n`), the
    /// finest one whose range covers the data.
    PowerOfTwo,
}

/// The fraction length `n` of a power-of-two scale `2^-n`, or `None` when
/// `scale` is not a positive normal power of two. Can be negative (scale
/// above 1) or exceed the bit width.
pub fn fraction_length(scale: f32) -> Option<i32> {
    if !(scale.is_normal() && scale > 0.0) {
        return None;
    }
    let bits = scale.to_bits();
    if bits & 0x007f_ffff != 0 {
        return None;
    }
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    Some(-exponent)
}

/// `2^-n` as `f32`, for `n` in the normal range.
fn power_of_two(n: i32) -> f32 {
    let exponent = (127 - n).clamp(1, 254) as u32;
    f32::from_bits(exponent << 23)
}

/// The largest fraction length `n` with `magnitude <= steps * 2^-n`, limited
/// to normal scales (at most 126).
///
/// # Errors
/// [`QuantError::NonFinite`] for a non-finite or negative magnitude or a
/// non-positive `steps`; [`QuantError::ScaleOutOfRange`] when even 2^127
/// does not cover `magnitude`.
pub fn power_of_two_fraction_length(magnitude: f64, steps: i32) -> Result<i32> {
    if !magnitude.is_finite() || magnitude < 0.0 {
        return Err(QuantError::NonFinite {
            what: "magnitude",
            value: magnitude,
        });
    }
    if steps <= 0 {
        return Err(QuantError::NonFinite {
            what: "step count",
            value: f64::from(steps),
        });
    }
    if magnitude == 0.0 {
        return Ok(MAX_FRACTION_LENGTH);
    }
    let steps = f64::from(steps);
    // Powers of two times a small integer are exact in f64, so the checks
    // below are exact; the logarithm is only a first guess.
    let covers = |n: i32| steps * 2f64.powi(-n) >= magnitude;
    let mut n = (steps / magnitude).log2().floor() as i32;
    n = n.clamp(MIN_FRACTION_LENGTH - 1, MAX_FRACTION_LENGTH + 1);
    while !covers(n) {
        n -= 1;
    }
    while n <= MAX_FRACTION_LENGTH && covers(n + 1) {
        n += 1;
    }
    if n < MIN_FRACTION_LENGTH {
        return Err(QuantError::ScaleOutOfRange {
            mode: "power-of-two",
            magnitude,
            qmax: steps as i32,
        });
    }
    Ok(n.min(MAX_FRACTION_LENGTH))
}

/// The symmetric scale for a tensor or channel whose largest magnitude is
/// `max_abs` (see the module docs).
///
/// # Errors
/// [`QuantError::NonFinite`] for a NaN or infinite `max_abs`;
/// [`QuantError::ScaleOutOfRange`] when no normal `f32` scale covers it.
pub fn symmetric_scale(max_abs: f32, spec: QuantSpec, mode: ScaleMode) -> Result<f32> {
    if !max_abs.is_finite() {
        return Err(QuantError::NonFinite {
            what: "max |w|",
            value: f64::from(max_abs),
        });
    }
    let max_abs = max_abs.abs();
    if max_abs == 0.0 {
        return Ok(ZERO_RANGE_SCALE);
    }
    let steps = spec.symmetric_half_range();
    match mode {
        ScaleMode::Float => Ok((max_abs / steps as f32).max(f32::MIN_POSITIVE)),
        ScaleMode::PowerOfTwo => Ok(power_of_two(power_of_two_fraction_length(
            f64::from(max_abs),
            steps,
        )?)),
    }
}

/// Largest magnitude per channel (one value when per tensor).
///
/// # Errors
/// [`QuantError::AxisOutOfRange`] for a missing axis, [`QuantError::NonFinite`]
/// for a NaN or infinite element.
pub fn max_abs<D: Dimension>(x: &ArrayView<f32, D>, granularity: Granularity) -> Result<Vec<f32>> {
    let fold = |acc: Result<f32>, &v: &f32| {
        let acc = acc?;
        if v.is_finite() {
            Ok(acc.max(v.abs()))
        } else {
            Err(QuantError::NonFinite {
                what: "tensor element",
                value: f64::from(v),
            })
        }
    };
    match granularity {
        Granularity::PerTensor => Ok(vec![x.iter().fold(Ok(0.0), fold)?]),
        Granularity::PerChannel { axis } => {
            if axis >= x.ndim() {
                return Err(QuantError::AxisOutOfRange {
                    axis,
                    rank: x.ndim(),
                });
            }
            let x = x.view().into_dyn();
            x.axis_iter(Axis(axis))
                .map(|lane| lane.iter().fold(Ok(0.0), fold))
                .collect()
        }
    }
}

/// Symmetric parameters for a weight tensor: per tensor or per channel,
/// float or power-of-two scales (see the module docs).
///
/// # Errors
/// As [`max_abs`] and [`symmetric_scale`].
pub fn symmetric_params<D: Dimension>(
    w: &ArrayView<f32, D>,
    spec: QuantSpec,
    granularity: Granularity,
    mode: ScaleMode,
) -> Result<QuantParams> {
    let scales = max_abs(w, granularity)?
        .into_iter()
        .map(|m| symmetric_scale(m, spec, mode))
        .collect::<Result<Vec<_>>>()?;
    let zero_points = vec![spec.symmetric_zero_point(); scales.len()];
    let axis = match granularity {
        Granularity::PerTensor => None,
        Granularity::PerChannel { axis } => Some(axis),
    };
    let params = QuantParams {
        scales,
        zero_points,
        axis,
        spec,
    };
    params.validate()?;
    Ok(params)
}

/// The signed grid of weight codes (`--weight-range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum WeightRange {
    /// `[-(2^(b-1) - 1), 2^(b-1) - 1]` (`[-7, 7]` at 4 bits): `max |w|`
    /// maps onto the last code, the grid is symmetric around 0.
    #[default]
    Symmetric,
    /// The full signed range `[-2^(b-1), 2^(b-1) - 1]` (`[-8, 7]`): float
    /// scales map `max |w|` onto `2^(b-1) - 1/2` (onnxruntime's symmetric
    /// `2 max|w| / (2^b - 1)`), so steps are finer by `h / (h + 1/2)` and
    /// the largest positive weight may round down by half a step; power of
    /// two scales are the finest `2^-n` with `max |w| <= 2^(b-1) * 2^-n`.
    Full,
}

/// The scale of a weight tensor or channel whose largest magnitude is
/// `max_abs`, on the grid `range` of the signed `spec`.
///
/// # Errors
/// As [`symmetric_scale`].
pub fn weight_scale(
    max_abs: f32,
    spec: QuantSpec,
    mode: ScaleMode,
    range: WeightRange,
) -> Result<f32> {
    if range == WeightRange::Symmetric || !max_abs.is_finite() || max_abs == 0.0 {
        return symmetric_scale(max_abs, spec, mode);
    }
    let max_abs = max_abs.abs();
    let h = spec.symmetric_half_range();
    match mode {
        ScaleMode::Float => Ok((max_abs / (h as f32 + 0.5)).max(f32::MIN_POSITIVE)),
        ScaleMode::PowerOfTwo => Ok(power_of_two(power_of_two_fraction_length(
            f64::from(max_abs),
            h + 1,
        )?)),
    }
}

/// Weight parameters on the grid `range` ([`symmetric_params`] for
/// [`WeightRange::Symmetric`]); the zero point is the symmetric one either
/// way.
///
/// # Errors
/// As [`symmetric_params`].
pub fn weight_params<D: Dimension>(
    w: &ArrayView<f32, D>,
    spec: QuantSpec,
    granularity: Granularity,
    mode: ScaleMode,
    range: WeightRange,
) -> Result<QuantParams> {
    let mut params = symmetric_params(w, spec, granularity, mode)?;
    if range == WeightRange::Full {
        params.scales = max_abs(w, granularity)?
            .into_iter()
            .map(|m| weight_scale(m, spec, mode, range))
            .collect::<Result<Vec<_>>>()?;
        params.validate()?;
    }
    Ok(params)
}

/// Symmetric parameters for activations observed in `[min, max]` (the form
/// TensorRT and the Vitis DPU take): the zero point
/// [`QuantSpec::symmetric_zero_point`] (0 on a signed grid) and the
/// symmetric scale of `max(|min|, |max|)`, as for weights.
///
/// # Errors
/// As [`symmetric_scale`]; [`QuantError::EmptyRange`] when `min > max`.
pub fn symmetric_range_params(
    range: (f32, f32),
    spec: QuantSpec,
    mode: ScaleMode,
) -> Result<QuantParams> {
    let (lo, hi) = range;
    if lo > hi {
        return Err(QuantError::EmptyRange { min: lo, max: hi });
    }
    let scale = symmetric_scale(lo.abs().max(hi.abs()), spec, mode)?;
    let params = QuantParams {
        scales: vec![scale],
        zero_points: vec![spec.symmetric_zero_point()],
        axis: None,
        spec,
    };
    params.validate()?;
    Ok(params)
}

/// Asymmetric scale and zero point for values in `[min, max]`, widened to
/// include 0. Float: `scale = (max - min) / (qmax - qmin)`,
/// `zero_point = clamp(round_half_to_even(qmin - min / scale))`. Power of
/// two: the finest `2^-n` for which some zero point puts both ends on the
/// grid, and of those zero points the one nearest `qmin - min / scale`. An all-zero range gives scale 1 and the zero point
/// nearest 0 on the grid.
///
/// # Errors
/// [`QuantError::NonFinite`] for a NaN or infinite end, [`QuantError::EmptyRange`]
/// when `min > max`, [`QuantError::ScaleOutOfRange`] when no normal scale fits.
pub fn asymmetric_scale_zero_point(
    min: f32,
    max: f32,
    spec: QuantSpec,
    mode: ScaleMode,
) -> Result<(f32, i32)> {
    for (what, v) in [("range minimum", min), ("range maximum", max)] {
        if !v.is_finite() {
            return Err(QuantError::NonFinite {
                what,
                value: f64::from(v),
            });
        }
    }
    if min > max {
        return Err(QuantError::EmptyRange { min, max });
    }
    let (qmin, qmax) = (spec.qmin(), spec.qmax());
    let lo = f64::from(min.min(0.0));
    let hi = f64::from(max.max(0.0));
    let width = hi - lo;
    if width == 0.0 {
        return Ok((ZERO_RANGE_SCALE, 0.clamp(qmin, qmax)));
    }
    let zero_point = |scale: f32| {
        (f64::from(qmin) - lo / f64::from(scale))
            .round_ties_even()
            .clamp(f64::from(qmin), f64::from(qmax)) as i32
    };
    let out_of_range = || QuantError::ScaleOutOfRange {
        mode: "float",
        magnitude: width,
        qmax: spec.levels(),
    };
    match mode {
        ScaleMode::Float => {
            let scale = (width / f64::from(spec.levels())) as f32;
            if !scale.is_finite() {
                return Err(out_of_range());
            }
            let scale = scale.max(f32::MIN_POSITIVE);
            Ok((scale, zero_point(scale)))
        }
        ScaleMode::PowerOfTwo => {
            let mut n = power_of_two_fraction_length(width, spec.levels())?;
            // The zero point must keep both ends on the grid:
            // (qmin - zp) * s <= lo and (qmax - zp) * s >= hi.
            while n >= MIN_FRACTION_LENGTH {
                let scale = power_of_two(n);
                let step = f64::from(scale);
                let (need_lo, need_hi) = (f64::from(qmin) - lo / step, f64::from(qmax) - hi / step);
                let (zmin, zmax) = (need_lo.ceil(), need_hi.floor());
                if zmin <= zmax {
                    return Ok((scale, need_lo.round_ties_even().clamp(zmin, zmax) as i32));
                }
                n -= 1;
            }
            Err(QuantError::ScaleOutOfRange {
                mode: "power-of-two",
                magnitude: width,
                qmax: spec.levels(),
            })
        }
    }
}

/// Asymmetric parameters from one observed `(min, max)` range per channel
/// (`axis: None` takes exactly one range).
///
/// # Errors
/// As [`asymmetric_scale_zero_point`]; [`QuantError::LengthMismatch`] when
/// `axis` is `None` and `ranges.len() != 1`.
pub fn asymmetric_params(
    ranges: &[(f32, f32)],
    axis: Option<usize>,
    spec: QuantSpec,
    mode: ScaleMode,
) -> Result<QuantParams> {
    let (scales, zero_points) = ranges
        .iter()
        .map(|&(lo, hi)| asymmetric_scale_zero_point(lo, hi, spec, mode))
        .collect::<Result<(Vec<_>, Vec<_>)>>()?;
    let params = QuantParams {
        scales,
        zero_points,
        axis,
        spec,
    };
    params.validate()?;
    Ok(params)
}

#[cfg(test)]
mod tests;

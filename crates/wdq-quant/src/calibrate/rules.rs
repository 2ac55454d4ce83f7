//! Ranges read off a [`Histogram`]: percentile clipping and MSE-optimal
//! clipping.

use super::histogram::Histogram;
use super::Calibrator;
use crate::error::{QuantError, Result};
use crate::linear::fake_quantize_value;
use crate::scale::{asymmetric_scale_zero_point, symmetric_scale, ScaleMode};
use crate::spec::QuantSpec;

/// Default number of clipping candidates the MSE search tries.
pub const DEFAULT_MSE_CANDIDATES: usize = 512;

/// How a [`HistogramCalibrator`] turns its histogram into a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HistogramRule {
    /// Two-sided: the range keeps `percentile` percent of the values below
    /// its top and `percentile` percent above its bottom. Symmetric: `(-t, t)`
    /// with `t` the `percentile` of magnitudes. Ends are bin edges (rounded
    /// outwards), never beyond the observed extremes; 100 gives the observed
    /// range exactly.
    Percentile { percentile: f64, symmetric: bool },
    /// Tries clipping ranges `alpha * (min, max)` (`min`/`max` widened to
    /// include 0; symmetric: `alpha * (-m, m)` with `m` the largest
    /// magnitude) for `alpha = i / candidates`, `i = 1..=candidates`, and
    /// keeps the one whose quantizer (symmetric or asymmetric params on
    /// `spec` by `mode`) gives the smallest squared error summed over the
    /// bins, each bin's values represented by its centre (clamped to the
    /// observed range). Ties keep the wider range.
    Mse {
        spec: QuantSpec,
        mode: ScaleMode,
        symmetric: bool,
        candidates: usize,
    },
}

impl HistogramRule {
    /// A percentile rule.
    ///
    /// # Errors
    /// [`QuantError::PercentileOutOfRange`] unless `0 < percentile <= 100`.
    pub fn percentile(percentile: f64, symmetric: bool) -> Result<Self> {
        let rule = HistogramRule::Percentile {
            percentile,
            symmetric,
        };
        rule.validate()?;
        Ok(rule)
    }

    fn validate(&self) -> Result<()> {
        match *self {
            HistogramRule::Percentile { percentile, .. }
                if !(percentile > 0.0 && percentile <= 100.0) =>
            {
                Err(QuantError::PercentileOutOfRange { percentile })
            }
            HistogramRule::Mse { candidates: 0, .. } => Err(QuantError::LengthMismatch {
                what: "MSE clipping candidates",
                expected: 1,
                found: 0,
            }),
            _ => Ok(()),
        }
    }
}

/// A histogram with a rule to read a range from it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramCalibrator {
    histogram: Histogram,
    rule: HistogramRule,
}

impl HistogramCalibrator {
    /// An empty calibrator with `bins` bins.
    ///
    /// # Errors
    /// [`QuantError::InvalidBinCount`] for zero or odd `bins`;
    /// [`QuantError::PercentileOutOfRange`] for a bad percentile;
    /// [`QuantError::LengthMismatch`] for zero MSE candidates.
    pub fn new(rule: HistogramRule, bins: usize) -> Result<Self> {
        rule.validate()?;
        Ok(HistogramCalibrator {
            histogram: Histogram::new(bins)?,
            rule,
        })
    }

    /// The histogram observed so far.
    pub fn histogram(&self) -> &Histogram {
        &self.histogram
    }

    /// The rule.
    pub fn rule(&self) -> HistogramRule {
        self.rule
    }
}

impl Calibrator for HistogramCalibrator {
    fn observe(&mut self, values: &[f32]) {
        self.histogram.observe(values);
    }

    fn range(&self) -> Result<(f32, f32)> {
        let h = &self.histogram;
        let (min, max) = h.bounds().ok_or(QuantError::NoObservations)?;
        match self.rule {
            HistogramRule::Percentile {
                percentile,
                symmetric: false,
            } => {
                let f = percentile / 100.0;
                let lo = h.lower_quantile(f).ok_or(QuantError::NoObservations)?;
                let hi = h.upper_quantile(f).ok_or(QuantError::NoObservations)?;
                Ok((lo.min(hi), hi))
            }
            HistogramRule::Percentile {
                percentile,
                symmetric: true,
            } => {
                let t = h
                    .magnitude_quantile(percentile / 100.0)
                    .ok_or(QuantError::NoObservations)?;
                Ok((-t, t))
            }
            HistogramRule::Mse {
                spec,
                mode,
                symmetric,
                candidates,
            } => Ok(mse_range(h, (min, max), spec, mode, symmetric, candidates)),
        }
    }

    fn merge(&mut self, other: &Self) -> Result<()> {
        self.histogram.merge(&other.histogram)
    }
}

/// The MSE search of [`HistogramRule::Mse`].
fn mse_range(
    h: &Histogram,
    (min, max): (f32, f32),
    spec: QuantSpec,
    mode: ScaleMode,
    symmetric: bool,
    candidates: usize,
) -> (f32, f32) {
    let (lo, hi) = if symmetric {
        let m = min.abs().max(max.abs());
        (-m, m)
    } else {
        (min.min(0.0), max.max(0.0))
    };
    if lo == 0.0 && hi == 0.0 {
        return (min, max);
    }
    let centres: Vec<(f32, f64)> = (0..h.bins())
        .filter(|&j| h.counts()[j] > 0)
        .map(|j| {
            let (a, b) = h.bin_edges(j);
            (((a + b) / 2.0) as f32).clamp(min, max)
        })
        .zip(h.counts().iter().filter(|&&c| c > 0).map(|&c| c as f64))
        .collect();
    let mut best: Option<(f64, (f32, f32))> = None;
    for i in (1..=candidates).rev() {
        let alpha = i as f32 / candidates as f32;
        let range = (lo * alpha, hi * alpha);
        let params = if symmetric {
            symmetric_scale(range.1, spec, mode).map(|s| (s, spec.symmetric_zero_point()))
        } else {
            asymmetric_scale_zero_point(range.0, range.1, spec, mode)
        };
        let Ok((scale, zp)) = params else { continue };
        let error: f64 = centres
            .iter()
            .map(|&(x, n)| {
                let d = f64::from(x) - f64::from(fake_quantize_value(x, scale, zp, spec));
                n * d * d
            })
            .sum();
        if best.is_none_or(|(e, _)| error < e) {
            best = Some((error, range));
        }
    }
    best.map_or((lo, hi), |(_, range)| range)
}

//! Activation ranges from observed batches.
//!
//! A [`Calibrator`] sees batches of values with [`Calibrator::observe`] and
//! answers a `(min, max)` range. Three methods:
//!
//! - [`MinMaxCalibrator`]: running minimum and maximum.
//! - [`HistogramCalibrator`] with [`HistogramRule::Percentile`]: the range
//!   that keeps `p` percent of the values on each side (or of magnitudes,
//!   when symmetric), read off a histogram.
//! - [`HistogramCalibrator`] with [`HistogramRule::Mse`]: the clipping range
//!   that minimises the quantization mean square error over the histogram.
//!
//! Non-finite values are skipped (and counted). Every result is
//! deterministic, and the histogram does not depend on how the values were
//! split into batches or in which order the batches came (see
//! [`Histogram`]), so calibrators filled in parallel and merged agree with
//! one filled serially.

mod histogram;
mod minmax;
mod rules;

pub use histogram::{Histogram, DEFAULT_BINS};
pub use minmax::MinMaxCalibrator;
pub use rules::{HistogramCalibrator, HistogramRule, DEFAULT_MSE_CANDIDATES};

use crate::error::Result;
use crate::scale::ScaleMode;
use crate::spec::QuantSpec;

/// Something that turns observed values into a range.
pub trait Calibrator {
    /// Adds a batch of values; NaN and infinities are skipped.
    fn observe(&mut self, values: &[f32]);

    /// The calibrated `(min, max)`, with `min <= max`.
    ///
    /// # Errors
    /// [`crate::QuantError::NoObservations`] before any finite value was seen.
    fn range(&self) -> Result<(f32, f32)>;

    /// Adds everything `other` observed, as if it had been observed here.
    ///
    /// # Errors
    /// [`crate::QuantError::HistogramMismatch`] for histograms of different
    /// sizes.
    fn merge(&mut self, other: &Self) -> Result<()>
    where
        Self: Sized;
}

/// A calibration method, as configured by the user.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CalibrationMethod {
    /// Running minimum and maximum.
    MinMax,
    /// Clip the `100 - percentile` percent most extreme values on each side
    /// (or of magnitudes when `symmetric`, giving `(-t, t)`).
    Percentile { percentile: f64, symmetric: bool },
    /// Clip where the quantization error onto `spec` (with scales chosen by
    /// `mode`, symmetric or not) is smallest.
    Mse {
        spec: QuantSpec,
        mode: ScaleMode,
        symmetric: bool,
    },
}

/// Any of the calibrators, chosen at run time by [`CalibrationMethod`].
#[derive(Clone, Debug, PartialEq)]
pub enum AnyCalibrator {
    /// See [`MinMaxCalibrator`].
    MinMax(MinMaxCalibrator),
    /// See [`HistogramCalibrator`].
    Histogram(HistogramCalibrator),
}

impl CalibrationMethod {
    /// A fresh calibrator for this method (histograms of [`DEFAULT_BINS`]).
    ///
    /// # Errors
    /// [`crate::QuantError::PercentileOutOfRange`] for a percentile outside
    /// `(0, 100]`.
    pub fn calibrator(&self) -> Result<AnyCalibrator> {
        Ok(match *self {
            CalibrationMethod::MinMax => AnyCalibrator::MinMax(MinMaxCalibrator::new()),
            CalibrationMethod::Percentile {
                percentile,
                symmetric,
            } => AnyCalibrator::Histogram(HistogramCalibrator::new(
                HistogramRule::percentile(percentile, symmetric)?,
                DEFAULT_BINS,
            )?),
            CalibrationMethod::Mse {
                spec,
                mode,
                symmetric,
            } => AnyCalibrator::Histogram(HistogramCalibrator::new(
                HistogramRule::Mse {
                    spec,
                    mode,
                    symmetric,
                    candidates: DEFAULT_MSE_CANDIDATES,
                },
                DEFAULT_BINS,
            )?),
        })
    }
}

impl Calibrator for AnyCalibrator {
    fn observe(&mut self, values: &[f32]) {
        match self {
            AnyCalibrator::MinMax(c) => c.observe(values),
            AnyCalibrator::Histogram(c) => c.observe(values),
        }
    }

    fn range(&self) -> Result<(f32, f32)> {
        match self {
            AnyCalibrator::MinMax(c) => c.range(),
            AnyCalibrator::Histogram(c) => c.range(),
        }
    }

    /// # Errors
    /// Also [`crate::QuantError::HistogramMismatch`] when the two are of
    /// different kinds.
    fn merge(&mut self, other: &Self) -> Result<()> {
        match (self, other) {
            (AnyCalibrator::MinMax(a), AnyCalibrator::MinMax(b)) => a.merge(b),
            (AnyCalibrator::Histogram(a), AnyCalibrator::Histogram(b)) => a.merge(b),
            (a, b) => Err(crate::QuantError::HistogramMismatch {
                left: bins_of(a),
                right: bins_of(b),
            }),
        }
    }
}

/// Bin count of a calibrator, 0 for min/max (for error messages).
fn bins_of(c: &AnyCalibrator) -> usize {
    match c {
        AnyCalibrator::MinMax(_) => 0,
        AnyCalibrator::Histogram(h) => h.histogram().bins(),
    }
}

#[cfg(test)]
mod tests;

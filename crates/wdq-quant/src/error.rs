//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong in `wdq-quant`.
///
/// Every variant names the offending quantity, so that callers can attach the
/// layer or tensor name and report it unchanged.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum QuantError {
    /// The bit width is outside `2..=16`.
    #[error("bit width {bits} is not supported (expected 2..=16)")]
    BitsOutOfRange { bits: u8 },
    /// A scale is zero, negative, subnormal, infinite or NaN.
    #[error("scale #{index} is {value}; scales must be finite, normal and positive")]
    InvalidScale { index: usize, value: f32 },
    /// A zero point lies outside the spec's `[qmin, qmax]`.
    #[error("zero point #{index} is {value}, outside [{qmin}, {qmax}]")]
    ZeroPointOutOfRange {
        index: usize,
        value: i32,
        qmin: i32,
        qmax: i32,
    },
    /// An input that must be finite (a range end, a maximum magnitude, a
    /// percentile) is infinite or NaN.
    #[error("{what} is {value}; it must be finite")]
    NonFinite { what: &'static str, value: f64 },
    /// A range has `min > max`.
    #[error("range [{min}, {max}] is empty")]
    EmptyRange { min: f32, max: f32 },
    /// The quantization axis does not exist in a tensor of this rank.
    #[error("axis {axis} is out of range for a tensor of rank {rank}")]
    AxisOutOfRange { axis: usize, rank: usize },
    /// Two lengths that must agree do not.
    #[error("{what}: expected length {expected}, found {found}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// The scale needed to cover a range is not a normal positive `f32`
    /// (the range is too large or too small for the bit width).
    #[error("no {mode} scale for magnitude {magnitude} at qmax {qmax} is a normal f32")]
    ScaleOutOfRange {
        mode: &'static str,
        magnitude: f64,
        qmax: i32,
    },
    /// A value does not fit the packed 4-bit type.
    #[error("value {value} at index {index} does not fit {kind}")]
    NibbleOutOfRange {
        index: usize,
        value: i32,
        kind: &'static str,
    },
    /// A percentile outside `(0, 100]`.
    #[error("percentile {percentile} is outside (0, 100]")]
    PercentileOutOfRange { percentile: f64 },
    /// A calibrator was asked for a range before it saw any finite value.
    #[error("the calibrator has observed no finite value")]
    NoObservations,
    /// A histogram needs an even, non-zero number of bins.
    #[error("a histogram needs an even, non-zero number of bins, not {bins}")]
    InvalidBinCount { bins: usize },
    /// Two histograms with different bin counts were merged.
    #[error("cannot merge histograms of {left} and {right} bins")]
    HistogramMismatch { left: usize, right: usize },
}

/// Shorthand for `Result<T, QuantError>`.
pub type Result<T> = std::result::Result<T, QuantError>;

//! [`Histogram`]: a fixed number of equal bins over `[-R, R)`, with `R` grown
//! by exact bin merging.
//!
//! Invariants: the bin width is a power of two `2^e`; the bins cover
//! `[-(bins/2) * 2^e, (bins/2) * 2^e)`, bin `j` holding `[(j - bins/2) * 2^e,
//! (j - bins/2 + 1) * 2^e)`; `e` is the smallest exponent (not below
//! [`MIN_EXPONENT`]) whose range holds every finite value seen. A value's bin
//! is `floor(x * 2^-e)`, exact in `f64`, and growing `e` by `d` merges bins
//! by an exact arithmetic shift of `d`. So the histogram of a set of values
//! is the same however they were split into batches and in whatever order
//! the batches came.

use crate::error::{QuantError, Result};

/// Default bin count.
pub const DEFAULT_BINS: usize = 2048;

/// Smallest bin-width exponent: 2^-160 is finer than any `f32` spacing
/// (the smallest positive `f32` is 2^-149).
pub const MIN_EXPONENT: i32 = -160;

/// A symmetric histogram of finite values (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    exponent: i32,
    bounds: Option<(f32, f32)>,
    total: u64,
    skipped: u64,
}

impl Histogram {
    /// An empty histogram of `bins` bins.
    ///
    /// # Errors
    /// [`QuantError::InvalidBinCount`] when `bins` is zero or odd.
    pub fn new(bins: usize) -> Result<Self> {
        if bins == 0 || bins % 2 != 0 {
            return Err(QuantError::InvalidBinCount { bins });
        }
        Ok(Histogram {
            counts: vec![0; bins],
            exponent: MIN_EXPONENT,
            bounds: None,
            total: 0,
            skipped: 0,
        })
    }

    /// Number of bins.
    pub fn bins(&self) -> usize {
        self.counts.len()
    }

    /// Count per bin.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Number of finite values seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Number of non-finite values skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Exact smallest and largest finite value seen.
    pub fn bounds(&self) -> Option<(f32, f32)> {
        self.bounds
    }

    /// The bin width `2^e`.
    pub fn bin_width(&self) -> f64 {
        2f64.powi(self.exponent)
    }

    /// Lower and upper edge of bin `j`.
    pub fn bin_edges(&self, j: usize) -> (f64, f64) {
        let rel = j as f64 - self.half() as f64;
        let w = self.bin_width();
        (rel * w, (rel + 1.0) * w)
    }

    fn half(&self) -> usize {
        self.counts.len() / 2
    }

    /// The smallest exponent whose range `[-half * 2^e, half * 2^e)` holds
    /// magnitude `m`.
    fn exponent_for(&self, m: f64) -> i32 {
        let half = self.half() as f64;
        let holds = |e: i32| m < half * 2f64.powi(e);
        let mut e = if m > 0.0 {
            ((m / half).log2().floor() as i32).max(MIN_EXPONENT)
        } else {
            MIN_EXPONENT
        };
        while !holds(e) {
            e += 1;
        }
        while e > MIN_EXPONENT && holds(e - 1) {
            e -= 1;
        }
        e
    }

    /// Widens the bins to exponent `e` (no-op if not wider), merging exactly.
    fn widen_to(&mut self, e: i32) {
        if e <= self.exponent {
            return;
        }
        let shift = (e - self.exponent).min(63) as u32;
        let half = self.half() as i64;
        let mut merged = vec![0u64; self.counts.len()];
        for (j, &c) in self.counts.iter().enumerate() {
            if c != 0 {
                let rel = (j as i64 - half) >> shift;
                merged[(rel + half) as usize] += c;
            }
        }
        self.counts = merged;
        self.exponent = e;
    }

    /// Adds a batch; NaN and infinities are skipped.
    pub fn observe(&mut self, values: &[f32]) {
        let mut batch: Option<(f32, f32)> = None;
        for &v in values {
            if v.is_finite() {
                batch = Some(match batch {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            } else {
                self.skipped += 1;
            }
        }
        let Some((lo, hi)) = batch else { return };
        self.bounds = Some(match self.bounds {
            None => (lo, hi),
            Some((a, b)) => (a.min(lo), b.max(hi)),
        });
        let magnitude = f64::from(lo.abs().max(hi.abs()));
        self.widen_to(self.exponent_for(magnitude));
        let inverse = 2f64.powi(-self.exponent);
        let half = self.half() as i64;
        let last = self.counts.len() as i64 - 1;
        for &v in values.iter().filter(|v| v.is_finite()) {
            let j = ((f64::from(v) * inverse).floor() as i64 + half).clamp(0, last);
            self.counts[j as usize] += 1;
            self.total += 1;
        }
    }

    /// Adds everything `other` has seen.
    ///
    /// # Errors
    /// [`QuantError::HistogramMismatch`] when the bin counts differ.
    pub fn merge(&mut self, other: &Histogram) -> Result<()> {
        if other.bins() != self.bins() {
            return Err(QuantError::HistogramMismatch {
                left: self.bins(),
                right: other.bins(),
            });
        }
        let mut other = other.clone();
        let e = self.exponent.max(other.exponent);
        self.widen_to(e);
        other.widen_to(e);
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.skipped += other.skipped;
        self.bounds = match (self.bounds, other.bounds) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (x, None) | (None, x) => x,
        };
        Ok(())
    }

    /// The upper edge of the first bin at which the cumulative count reaches
    /// `fraction` of the total, capped at the observed maximum.
    pub fn upper_quantile(&self, fraction: f64) -> Option<f32> {
        let (_, max) = self.bounds?;
        let j = self.first_reaching(self.counts.iter().copied(), fraction)?;
        Some((self.bin_edges(j).1 as f32).min(max))
    }

    /// The lower edge of the last bin at which the count from the top reaches
    /// `fraction` of the total, floored at the observed minimum.
    pub fn lower_quantile(&self, fraction: f64) -> Option<f32> {
        let (min, _) = self.bounds?;
        let from_top = self.first_reaching(self.counts.iter().rev().copied(), fraction)?;
        let j = self.bins() - 1 - from_top;
        Some((self.bin_edges(j).0 as f32).max(min))
    }

    /// The magnitude below which `fraction` of the values' magnitudes lie
    /// (bin resolution, rounded up), capped at the largest magnitude seen.
    pub fn magnitude_quantile(&self, fraction: f64) -> Option<f32> {
        let (min, max) = self.bounds?;
        let half = self.half();
        // Magnitude bin m holds [m * w, (m + 1) * w): signed bins half + m and
        // half - 1 - m.
        let magnitudes = (0..half).map(|m| self.counts[half + m] + self.counts[half - 1 - m]);
        let m = self.first_reaching(magnitudes, fraction)?;
        Some((((m + 1) as f64 * self.bin_width()) as f32).min(min.abs().max(max.abs())))
    }

    /// Index of the first count at which the running sum reaches
    /// `fraction * total`.
    fn first_reaching(&self, counts: impl Iterator<Item = u64>, fraction: f64) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let target = fraction * self.total as f64;
        let mut sum = 0u64;
        let mut last = None;
        for (j, c) in counts.enumerate() {
            sum += c;
            if c > 0 {
                last = Some(j);
            }
            if sum as f64 >= target && c > 0 {
                return Some(j);
            }
        }
        last
    }
}

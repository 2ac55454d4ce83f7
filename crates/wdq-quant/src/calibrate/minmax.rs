//! Running minimum and maximum.

use super::Calibrator;
use crate::error::{QuantError, Result};

/// Tracks the smallest and largest finite value seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MinMaxCalibrator {
    bounds: Option<(f32, f32)>,
    skipped: u64,
}

impl MinMaxCalibrator {
    /// An empty calibrator.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many non-finite values were skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

impl Calibrator for MinMaxCalibrator {
    fn observe(&mut self, values: &[f32]) {
        for &v in values {
            if !v.is_finite() {
                self.skipped += 1;
                continue;
            }
            self.bounds = Some(match self.bounds {
                None => (v, v),
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
            });
        }
    }

    fn range(&self) -> Result<(f32, f32)> {
        self.bounds.ok_or(QuantError::NoObservations)
    }

    fn merge(&mut self, other: &Self) -> Result<()> {
        self.skipped += other.skipped;
        self.bounds = match (self.bounds, other.bounds) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (x, None) | (None, x) => x,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_min_max() {
        let mut c = MinMaxCalibrator::new();
        assert_eq!(c.range(), Err(QuantError::NoObservations));
        c.observe(&[1.0, f32::NAN, 3.0]);
        c.observe(&[-2.0, f32::INFINITY]);
        assert_eq!(c.range(), Ok((-2.0, 3.0)));
        assert_eq!(c.skipped(), 2);
        let mut d = MinMaxCalibrator::new();
        d.observe(&[10.0]);
        d.merge(&c).unwrap();
        assert_eq!(d.range(), Ok((-2.0, 10.0)));
    }
}

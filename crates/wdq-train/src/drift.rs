//! Weight-drift statistics (steps 2 and 3 of the method).
//!
//! After each cycle k the difference D[k] = W[k] - W0 of every tracked
//! tensor is summarised (mean, mean square, variance, standard deviation,
//! mean absolute value) and the summary is all that is kept: memory stays
//! flat in the number of cycles. Sums run in f64 over elements in storage
//! order, so the figures do not depend on the thread count.

use serde::Serialize;

pub use wdq_plan::Statistic;

/// Summary of one tensor's difference D = W[k] - W0 after one cycle.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CycleDrift {
    pub mean: f64,
    pub mean_square: f64,
    pub variance: f64,
    pub std: f64,
    pub mean_abs: f64,
}

impl CycleDrift {
    /// Summarises `current - initial` (same length).
    ///
    /// # Panics
    /// If the slices differ in length (both come from the same parameter).
    pub fn between(initial: &[f32], current: &[f32]) -> CycleDrift {
        assert_eq!(
            initial.len(),
            current.len(),
            "drift of tensors of different sizes"
        );
        let n = initial.len().max(1) as f64;
        let (mut sum, mut sum_sq, mut sum_abs) = (0f64, 0f64, 0f64);
        for (&w0, &w) in initial.iter().zip(current) {
            let d = w as f64 - w0 as f64;
            sum += d;
            sum_sq += d * d;
            sum_abs += d.abs();
        }
        let mean = sum / n;
        let variance = initial
            .iter()
            .zip(current)
            .map(|(&w0, &w)| (w as f64 - w0 as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        CycleDrift {
            mean,
            mean_square: sum_sq / n,
            variance,
            std: variance.sqrt(),
            mean_abs: sum_abs / n,
        }
    }

    /// The figure for `statistic`.
    pub fn get(&self, statistic: Statistic) -> f64 {
        match statistic {
            Statistic::MeanSquare => self.mean_square,
            Statistic::Mean => self.mean,
            Statistic::Variance => self.variance,
            Statistic::Std => self.std,
            Statistic::MeanAbs => self.mean_abs,
        }
    }
}

/// S = (1/K) * sum over cycles of the per-cycle statistic.
pub fn over_cycles(cycles: &[CycleDrift], statistic: Statistic) -> f64 {
    if cycles.is_empty() {
        return 0.0;
    }
    cycles.iter().map(|c| c.get(statistic)).sum::<f64>() / cycles.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_known_difference() {
        let d = CycleDrift::between(&[1.0, 1.0, 1.0, 1.0], &[1.0, 2.0, 0.0, 3.0]);
        // D = [0, 1, -1, 2]
        assert_eq!(d.mean, 0.5);
        assert_eq!(d.mean_square, 1.5);
        assert_eq!(d.variance, 1.25);
        assert_eq!(d.mean_abs, 1.0);
        let s = over_cycles(
            &[d, CycleDrift::between(&[0.0; 2], &[0.0; 2])],
            Statistic::MeanSquare,
        );
        assert_eq!(s, 0.75);
    }
}

//! The layer-ordering criteria `compare` puts side by side, and the cheap
//! ones computed from numbers alone: weight range, largest magnitude and
//! weight drift (plain, or normalised by the weight's variance). The
//! measured criteria (drift, SQNR, gradient, layer accuracy) are computed
//! where the model runs (onnx-wdq's compare) and ordered here.
//!
//! Every criterion gives one score per weighted layer (graph order) and a
//! direction; the order is the layers sorted by score in that direction,
//! best low-bit candidate first, ties in graph order, NaN last.

use crate::{rank_ascending, rank_descending, Statistic};

/// A way to order the weighted layers for low bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    /// Weight drift under fine-tuning with one statistic (ascending).
    Drift(Statistic),
    /// The drift statistic divided by the variance of the layer's initial
    /// weight, S / var(W0) (ascending).
    NormalizedDrift,
    /// max(W0) - min(W0) (ascending).
    Range,
    /// max |W0| (ascending).
    MaxAbs,
    /// Accuracy loss with the layer alone at low bits (ascending).
    LayerAccuracy,
    /// SQNR of the layer's output with its weight fake-quantized to low
    /// bits, in dB (descending: least sensitive first).
    Sqnr,
    /// sum((dL/dW * (W - Q(W)))^2), averaged over training batches
    /// (ascending).
    Gradient,
    /// Seeded random orders, several averaged.
    Random,
}

/// Every name `--criteria` accepts for one criterion, in report order.
pub const ALL_CRITERIA: [Criterion; 12] = [
    Criterion::Drift(Statistic::MeanSquare),
    Criterion::Drift(Statistic::Mean),
    Criterion::Drift(Statistic::Variance),
    Criterion::Drift(Statistic::Std),
    Criterion::Drift(Statistic::MeanAbs),
    Criterion::NormalizedDrift,
    Criterion::Range,
    Criterion::MaxAbs,
    Criterion::LayerAccuracy,
    Criterion::Sqnr,
    Criterion::Gradient,
    Criterion::Random,
];

/// A `--criteria` entry that names no criterion.
#[derive(Debug, thiserror::Error)]
#[error("unknown criterion `{name}` (use drift, drift:mean-square, drift:mean, drift:variance, drift:std, drift:mean-abs, drift:normalized, range, max-abs, layer-accuracy, sqnr, gradient or random)")]
pub struct UnknownCriterion {
    pub name: String,
}

impl Criterion {
    /// The name used in `--criteria`, tables, JSON and plots.
    pub fn name(self) -> String {
        match self {
            Criterion::Drift(s) => format!("drift:{}", s.name()),
            Criterion::NormalizedDrift => "drift:normalized".to_string(),
            Criterion::Range => "range".to_string(),
            Criterion::MaxAbs => "max-abs".to_string(),
            Criterion::LayerAccuracy => "layer-accuracy".to_string(),
            Criterion::Sqnr => "sqnr".to_string(),
            Criterion::Gradient => "gradient".to_string(),
            Criterion::Random => "random".to_string(),
        }
    }

    /// Whether a smaller score is a better low-bit candidate.
    pub fn ascending(self) -> bool {
        !matches!(self, Criterion::Sqnr)
    }

    /// Whether the criterion needs the fine-tuning run.
    pub fn needs_training(self) -> bool {
        matches!(self, Criterion::Drift(_) | Criterion::NormalizedDrift)
    }

    /// Parses a comma-split `--criteria` list: `drift` stands for the five
    /// drift statistics and the normalised drift. The result keeps
    /// [`ALL_CRITERIA`] order, each criterion once.
    ///
    /// # Errors
    /// [`UnknownCriterion`] for a name that is none of the above.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Criterion>, UnknownCriterion> {
        let mut chosen = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            if name == "drift" {
                chosen.extend(ALL_CRITERIA.iter().copied().filter(|c| c.needs_training()));
                continue;
            }
            let found = ALL_CRITERIA.iter().copied().find(|c| c.name() == name);
            chosen.push(found.ok_or_else(|| UnknownCriterion {
                name: name.to_string(),
            })?);
        }
        Ok(ALL_CRITERIA
            .iter()
            .copied()
            .filter(|c| chosen.contains(c))
            .collect())
    }

    /// The layer order for `scores` (graph order), best candidate first.
    pub fn order(self, scores: &[f64]) -> Vec<usize> {
        if self.ascending() {
            rank_ascending(scores)
        } else {
            rank_descending(scores)
        }
    }
}

/// Range, largest magnitude and variance of one weight tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightStats {
    /// max - min.
    pub range: f64,
    /// max |w|.
    pub max_abs: f64,
    /// Population variance.
    pub variance: f64,
}

impl WeightStats {
    /// The statistics of `values` (sums in f64, storage order); an empty
    /// tensor gives zeros.
    pub fn of(values: &[f32]) -> WeightStats {
        if values.is_empty() {
            return WeightStats {
                range: 0.0,
                max_abs: 0.0,
                variance: 0.0,
            };
        }
        let n = values.len() as f64;
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0f64);
        for &v in values {
            let v = f64::from(v);
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        let mean = sum / n;
        let variance = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        WeightStats {
            range: max - min,
            max_abs: max.abs().max(min.abs()),
            variance,
        }
    }
}

/// S / var(W0) per layer: drift relative to the spread of the weight it
/// moved. A constant weight (variance 0) gives infinity (or NaN when it did
/// not move either), which orders last.
pub fn normalized_drift(drift: &[f64], weights: &[WeightStats]) -> Vec<f64> {
    drift
        .iter()
        .zip(weights)
        .map(|(s, w)| s / w.variance)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_max_abs_and_variance_of_a_known_tensor() {
        let s = WeightStats::of(&[-3.0, 1.0, 0.5, 2.5]);
        assert_eq!(s.range, 5.5);
        assert_eq!(s.max_abs, 3.0);
        // mean 0.25; squares of deviations 10.5625 + 0.5625 + 0.0625 + 5.0625
        assert_eq!(s.variance, 16.25 / 4.0);
        let positive = WeightStats::of(&[0.5, 2.0]);
        assert_eq!((positive.range, positive.max_abs), (1.5, 2.0));
        assert_eq!(WeightStats::of(&[]).range, 0.0);
    }

    #[test]
    fn sqnr_orders_descending_and_drift_expands() {
        assert_eq!(Criterion::Sqnr.order(&[10.0, 30.0, 20.0]), vec![1, 2, 0]);
        assert_eq!(Criterion::MaxAbs.order(&[10.0, 30.0, 20.0]), vec![0, 2, 1]);
        let list = Criterion::parse_list(&["random", "drift", "range"]).unwrap();
        assert_eq!(list.len(), 8);
        assert_eq!(list[0], Criterion::Drift(Statistic::MeanSquare));
        assert_eq!(list[7], Criterion::Random);
        assert!(Criterion::parse_list(&["sideways"]).is_err());
        assert_eq!(
            Criterion::parse_list(&["drift:normalized"]).unwrap(),
            vec![Criterion::NormalizedDrift]
        );
    }

    #[test]
    fn normalized_drift_divides_by_the_weight_variance() {
        // var([0, 1]) = 0.25, var([-4, 4]) = 16, var([1]) = 0.
        let w = [
            WeightStats::of(&[0.0, 1.0]),
            WeightStats::of(&[-4.0, 4.0]),
            WeightStats::of(&[1.0]),
        ];
        let n = normalized_drift(&[0.01, 0.04, 0.0], &w);
        assert!((n[0] - 0.04).abs() < 1e-12 && (n[1] - 0.0025).abs() < 1e-12 && n[2].is_nan());
        assert_eq!(Criterion::NormalizedDrift.order(&n), vec![1, 0, 2]);
    }
}

//! Loss curves of layer orders: which prefix lengths to evaluate, the area
//! under a curve, the longest prefix within a threshold, the mean and spread
//! of several curves, and the Pareto front of (size, accuracy) points.
//!
//! Everything here is pure arithmetic over numbers the caller measured; a
//! curve is a list of `(m, loss)` points with `m` strictly increasing.

use serde::Serialize;

/// The prefix lengths to evaluate for `n` layers: every `stride`-th of
/// `0..=n`, always with 0 and `n` (a stride of 0 counts as 1).
pub fn prefix_lengths(n: usize, stride: usize) -> Vec<usize> {
    let stride = stride.max(1);
    let mut out: Vec<usize> = (0..=n).step_by(stride).collect();
    if out.last() != Some(&n) {
        out.push(n);
    }
    out
}

/// The area under a loss curve by the trapezoid rule over its `m` values,
/// divided by `n` (so a curve that loses `x` points everywhere has area
/// `x`). Lower is a better order. With `n = 0` the area is the loss at
/// `m = 0`; with no point it is NaN.
pub fn area_under_curve(points: &[(usize, f64)], n: usize) -> f64 {
    if n == 0 || points.len() < 2 {
        return points.first().map_or(f64::NAN, |p| p.1);
    }
    let area: f64 = points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) as f64 * (w[0].1 + w[1].1) / 2.0)
        .sum();
    area / n as f64
}

/// The largest `m` of the curve whose loss is within `threshold` (the
/// largest low-bit prefix this order allows), if any.
pub fn largest_within(points: &[(usize, f64)], threshold: f64) -> Option<usize> {
    points
        .iter()
        .filter(|p| p.1 <= threshold)
        .map(|p| p.0)
        .max()
}

/// Mean and spread of several curves over the same `m` values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CurveSpread {
    pub mean: Vec<f64>,
    /// Population standard deviation at each point.
    pub std: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
}

/// Point-wise mean, standard deviation, minimum and maximum of `curves`
/// (each the losses at the same `m` values; shorter curves limit the
/// length). Empty input gives empty vectors.
pub fn spread(curves: &[Vec<f64>]) -> CurveSpread {
    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
    let mut out = CurveSpread {
        mean: Vec::with_capacity(len),
        std: Vec::with_capacity(len),
        min: Vec::with_capacity(len),
        max: Vec::with_capacity(len),
    };
    for i in 0..len {
        let values: Vec<f64> = curves.iter().map(|c| c[i]).collect();
        let (mean, std) = mean_std(&values);
        out.mean.push(mean);
        out.std.push(std);
        out.min
            .push(values.iter().copied().fold(f64::INFINITY, f64::min));
        out.max
            .push(values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    }
    out
}

/// Mean and population standard deviation (NaN for no value).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// For each `(size, accuracy)` point, whether it is on the Pareto front:
/// no other point is at most as large and at least as accurate while
/// strictly better in one of the two. Equal points are all on the front.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(size, acc)| {
            !points
                .iter()
                .any(|&(s, a)| s <= size && a >= acc && (s < size || a > acc))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_lengths_keep_both_ends() {
        assert_eq!(prefix_lengths(5, 1), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(prefix_lengths(5, 2), vec![0, 2, 4, 5]);
        assert_eq!(prefix_lengths(4, 2), vec![0, 2, 4]);
        assert_eq!(prefix_lengths(0, 3), vec![0]);
    }

    #[test]
    fn area_is_normalised_by_the_layer_count() {
        assert_eq!(area_under_curve(&[(0, 1.0), (2, 1.0), (4, 1.0)], 4), 1.0);
        // Triangle 0 -> 4 over m = 0..4: area 8, / 4 = 2.
        assert_eq!(area_under_curve(&[(0, 0.0), (4, 4.0)], 4), 2.0);
        assert_eq!(area_under_curve(&[(0, 0.5)], 0), 0.5);
    }

    #[test]
    fn largest_within_takes_the_largest_passing_m() {
        let curve = [(0, 0.0), (1, 0.5), (2, 1.5), (3, 0.9), (4, 3.0)];
        assert_eq!(largest_within(&curve, 1.0), Some(3));
        assert_eq!(largest_within(&curve, -1.0), None);
    }

    #[test]
    fn spread_of_two_curves() {
        let s = spread(&[vec![0.0, 2.0], vec![0.0, 4.0]]);
        assert_eq!(s.mean, vec![0.0, 3.0]);
        assert_eq!(s.std, vec![0.0, 1.0]);
        assert_eq!(s.min, vec![0.0, 2.0]);
        assert_eq!(s.max, vec![0.0, 4.0]);
    }

    #[test]
    fn pareto_front_keeps_undominated_points() {
        let points = [
            (10.0, 90.0),
            (5.0, 90.0),
            (5.0, 80.0),
            (2.0, 70.0),
            (8.0, 95.0),
        ];
        assert_eq!(pareto_front(&points), vec![false, true, false, true, true]);
    }
}

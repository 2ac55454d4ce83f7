//! Sorting layers by a statistic.

/// Indices of `scores` sorted ascending; ties keep their original (graph)
/// order, NaN sorts last.
pub fn rank_ascending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| match (scores[a].is_nan(), scores[b].is_nan()) {
        (false, false) => scores[a].total_cmp(&scores[b]),
        (x, y) => x.cmp(&y),
    });
    order
}

/// Indices of `scores` sorted descending (largest first); ties keep their
/// original (graph) order, NaN sorts last.
pub fn rank_descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| match (scores[a].is_nan(), scores[b].is_nan()) {
        (false, false) => scores[b].total_cmp(&scores[a]),
        (x, y) => x.cmp(&y),
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascending_with_stable_ties_and_nan_last() {
        assert_eq!(
            rank_ascending(&[0.3, f64::NAN, 0.1, 0.3, 0.0]),
            vec![4, 2, 0, 3, 1]
        );
    }

    #[test]
    fn descending_with_stable_ties_and_nan_last() {
        assert_eq!(
            rank_descending(&[0.3, f64::NAN, 0.1, 0.3, 0.0]),
            vec![0, 3, 2, 4, 1]
        );
    }
}

//! Honest statistics for small validation sets: rank correlation of two
//! layer orders, the paired 95% interval of an accuracy loss, a seeded
//! bootstrap interval for figures that are not counts, and the resolution
//! of a figure (what one sample changes).
//!
//! Pure arithmetic over numbers the caller measured, deterministic (the
//! bootstrap draws from a fixed-seed SplitMix64 stream).

/// The two-sided 95% normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Ranks of `values` (1 = smallest), ties sharing their mean rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && values[idx[j + 1]] == values[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            out[k] = mean;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation of paired values (Pearson's correlation of
/// their ranks, ties averaged). NaN with fewer than two pairs or when
/// either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let (ra, rb) = (ranks(&a[..n]), ranks(&b[..n]));
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - mean) * (y - mean);
        saa += (x - mean) * (x - mean);
        sbb += (y - mean) * (y - mean);
    }
    sab / (saa * sbb).sqrt()
}

/// A 95% interval `[low, high]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The loss `reference - candidate` in percentage points of paired hits
/// (the same samples judged for both), and its 95% interval.
///
/// The interval is Agresti and Min's (2005) adjusted Wald interval for a
/// difference of paired proportions: half a sample is added to each cell of
/// the 2x2 table, so it stays honest when no sample changed (32 samples
/// with none lost still allow a loss of up to about 7 points). The two
/// correctness vectors are not independent and are not treated so.
pub fn paired_loss(reference: &[bool], candidate: &[bool]) -> (f64, Interval) {
    let n = reference.len().min(candidate.len());
    let (mut lost, mut gained) = (0usize, 0usize);
    for (&r, &c) in reference.iter().zip(candidate) {
        match (r, c) {
            (true, false) => lost += 1,
            (false, true) => gained += 1,
            _ => {}
        }
    }
    paired_loss_counts(lost, gained, n)
}

/// [`paired_loss`] from its counts: `lost` samples the reference got right
/// and the candidate wrong, `gained` the other way round, of `n` pairs.
pub fn paired_loss_counts(lost: usize, gained: usize, n: usize) -> (f64, Interval) {
    let loss = 100.0 * (lost as f64 - gained as f64) / n.max(1) as f64;
    let m = n as f64 + 2.0;
    let (p12, p21) = ((lost as f64 + 0.5) / m, (gained as f64 + 0.5) / m);
    let diff = p12 - p21;
    let sd = (((p12 + p21) - diff * diff) / m).max(0.0).sqrt();
    let interval = Interval {
        low: 100.0 * (diff - Z95 * sd).max(-1.0),
        high: 100.0 * (diff + Z95 * sd).min(1.0),
    };
    (loss, interval)
}

/// The percentile-bootstrap 95% interval of `figure` over samples:
/// `resamples` draws of `n` sample indices with replacement from a
/// SplitMix64 stream seeded with `seed`.
pub fn bootstrap(
    n: usize,
    resamples: usize,
    seed: u64,
    figure: &dyn Fn(&[usize]) -> f64,
) -> Interval {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            let pick: Vec<usize> = (0..n)
                .map(|_| (next() % n.max(1) as u64) as usize)
                .collect();
            figure(&pick)
        })
        .filter(|v| !v.is_nan())
        .collect();
    if values.is_empty() {
        return Interval {
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    values.sort_by(f64::total_cmp);
    let at =
        |q: f64| values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    Interval {
        low: at(0.025),
        high: at(0.975),
    }
}

/// The resolution of a figure over `n` samples: the largest change that
/// leaving out one sample makes (`figure(all) - figure(all but i)`). For a
/// percentage of counts this is about `100 / n`.
pub fn resolution(n: usize, figure: &dyn Fn(&[usize]) -> f64) -> f64 {
    let all: Vec<usize> = (0..n).collect();
    let full = figure(&all);
    (0..n)
        .map(|i| {
            let rest: Vec<usize> = (0..n).filter(|&k| k != i).collect();
            (full - figure(&rest)).abs()
        })
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_known_orders() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // Textbook: d = [0, 1, -1, 0, 0] -> 1 - 6*2/(5*24) = 0.9.
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 3.0, 2.0, 4.0, 5.0]);
        assert!((r - 0.9).abs() < 1e-12, "{r}");
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 0.0]), vec![3.5, 2.0, 3.5, 1.0]);
        assert!(spearman(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }

    #[test]
    fn paired_loss_is_honest_without_changes_and_counts_discordant_pairs() {
        let same = vec![true; 32];
        let (loss, i) = paired_loss(&same, &same);
        assert_eq!(loss, 0.0);
        // 0 +- 1.96 * sqrt((1/34 - 0)/34) = +-1.96/34, in points: +-5.76.
        assert!((i.high - 5.765).abs() < 0.01, "{i:?}");
        assert_eq!(i.low, -i.high);
        let reference = [true, true, true, false];
        let candidate = [true, false, false, true];
        let (loss, i) = paired_loss(&reference, &candidate);
        assert_eq!(loss, 25.0);
        assert!(i.low < loss && loss < i.high);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let x: Vec<f64> = (0..200).map(|i| (i % 10) as f64).collect();
        let mean = |pick: &[usize]| pick.iter().map(|&i| x[i]).sum::<f64>() / pick.len() as f64;
        let a = bootstrap(x.len(), 500, 7, &mean);
        assert_eq!(a, bootstrap(x.len(), 500, 7, &mean));
        assert!(a.low < 4.5 && 4.5 < a.high, "{a:?}");
        // Standard error 2.87 / sqrt(200) = 0.2: the interval is about +-0.4.
        assert!((a.high - a.low - 0.8).abs() < 0.2, "{a:?}");
    }

    #[test]
    fn resolution_of_a_percentage_is_one_sample() {
        let hits = [true, false, true, true];
        let pct = |pick: &[usize]| {
            100.0 * pick.iter().filter(|&&i| hits[i]).count() as f64 / pick.len() as f64
        };
        // Leaving out the miss: 100 - 75 = 25 points = 100 / 4.
        assert_eq!(resolution(4, &pct), 25.0);
    }
}

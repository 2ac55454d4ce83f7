//! Stopping an evaluation early: after the first `k` of `n` validation
//! samples, is a candidate's answer to a [`Bar`] already the same for every
//! way the other `n - k` samples could go? [`verdict`] says `Some(answer)`
//! only when it is provably so, computing the final figure with the very
//! functions a full evaluation uses ([`hits_judged`], [`PerSample::figure`]);
//! otherwise `None` (evaluate on).
//!
//! Why each case is exact:
//! - Accuracy metrics (top-1, agreement, top-5 agreement) count samples.
//!   The final result depends only on how many samples the candidate lost
//!   and gained against the reference, and the reference's hits are known
//!   for every sample: each unseen sample the reference gets right can only
//!   be kept or lost, each it gets wrong only stay wrong or be gained.
//!   Without `guard` the judged figure is the score `100 * hits / n`, which
//!   IEEE arithmetic keeps monotone in `hits`, and every goal is monotone
//!   in the score: if the fewest and the most hits possible get the same
//!   answer, so does everything between. With `guard` the judged figure is
//!   the end of the paired interval, whose monotonicity we do not rely on:
//!   every (lost, gained) completion is tried (when there are at most
//!   [`GRID_LIMIT`] of them; else no early answer).
//! - SQNR and relative L2 error: the final noise energy is a running sum of
//!   non-negative terms (or NaN), so it is at least the sum over the samples
//!   seen (IEEE addition is monotone), and the reference's energy is known
//!   for every sample. The best the candidate can still reach is its figure
//!   with no further noise: when even that misses, it is rejected. There is
//!   no early accept (one sample can add any noise). SQNR's `log10` comes
//!   from the platform's libm, monotone only up to its documented error of
//!   a few ulps: the bound must miss by [`LOG_SLACK`] dB more.
//! - Cosine: each sample's cosine is clamped to [-1, 1] (or NaN, which
//!   rejects), so the mean is at most the sum of those seen plus 1 per
//!   unseen sample, summed in the same order, over `n`. When even that
//!   misses, rejected; no early accept (a NaN sample would reject).
//! - Fidelity metrics under `guard` (a bootstrap over all samples) and any
//!   other goal: no early answer.

use crate::goal::{Bar, Goal, Measure};
use crate::metric::{hits_judged, Metric, PerSample};

/// The most (lost, gained) completions tried under `guard`.
pub const GRID_LIMIT: usize = 1 << 22;

/// What SQNR's bound must miss by, in dB, to reject: far above the error of
/// any libm's `log10` at the figures SQNR takes.
pub const LOG_SLACK: f64 = 1e-6;

/// The answer to `bar` if it no longer depends on the unseen samples.
/// `reference` holds the reference's figures on all `n` samples (its hits
/// for the accuracy metrics, its energies for the fidelity metrics);
/// `seen` the candidate's figures on the first `seen.len()` samples,
/// scaled as the full set's (see [`crate::metric::combine_scaled`]).
pub fn verdict(metric: Metric, bar: &Bar, reference: &PerSample, seen: &PerSample) -> Option<bool> {
    match (reference, seen) {
        (PerSample::Hits(reference), PerSample::Hits(seen)) => hits(bar, reference, seen),
        (PerSample::Fidelity { signal, .. }, PerSample::Fidelity { noise, cosine, .. }) => {
            let n = signal.len();
            (!bar.guard && noise.len() <= n)
                .then(|| fidelity(metric, bar, signal, noise, cosine, n))
                .flatten()
        }
        _ => None,
    }
}

fn hits(bar: &Bar, reference: &[bool], seen: &[bool]) -> Option<bool> {
    let n = reference.len();
    let k = seen.len();
    if k > n {
        return None;
    }
    let (mut lost, mut gained) = (0, 0);
    for (&r, &c) in reference.iter().zip(seen) {
        lost += usize::from(r && !c);
        gained += usize::from(!r && c);
    }
    let held = reference.iter().filter(|&&h| h).count();
    let rest_right = reference[k..].iter().filter(|&&h| h).count();
    let rest_wrong = (n - k) - rest_right;
    let answer = |lose: usize, gain: usize| {
        let (score, interval) = hits_judged(n, held, lost + lose, gained + gain);
        bar.accepts(&Measure::full(score, Some(interval)))
    };
    // The fewest and the most hits still possible.
    let worst = answer(rest_right, 0);
    if answer(0, rest_wrong) != worst {
        return None;
    }
    if !bar.guard {
        return Some(worst);
    }
    if (rest_right + 1).saturating_mul(rest_wrong + 1) > GRID_LIMIT {
        return None;
    }
    for lose in 0..=rest_right {
        for gain in 0..=rest_wrong {
            if answer(lose, gain) != worst {
                return None;
            }
        }
    }
    Some(worst)
}

fn fidelity(
    metric: Metric,
    bar: &Bar,
    signal: &[f64],
    noise: &[f64],
    cosine: &[f64],
    n: usize,
) -> Option<bool> {
    // `PerSample::figure`'s sums, in its order.
    let signal_sum: f64 = (0..n).map(|i| signal[i]).sum();
    let noise_seen: f64 = noise.iter().sum();
    let best = match (metric, bar.goal) {
        (Metric::Sqnr, Goal::AtLeast) => 10.0 * (signal_sum / noise_seen).log10() + LOG_SLACK,
        (Metric::RelL2, Goal::AtMost) => (noise_seen / signal_sum).sqrt(),
        (Metric::Cosine, Goal::AtLeast) => {
            let unseen = std::iter::repeat_n(1.0, n - cosine.len());
            cosine.iter().copied().chain(unseen).sum::<f64>() / n.max(1) as f64
        }
        _ => return None,
    };
    if best.is_nan() {
        return None;
    }
    (!bar.accepts(&Measure::full(best, None))).then_some(false)
}

/// Appends `more` (the figures of the next samples) to `acc` (replaces it
/// when the kinds differ, as for the first batch).
pub fn append(acc: &mut PerSample, more: PerSample) {
    if !acc.merge(more.clone(), |a, b| a.extend(b), |a, b| a.extend(b)) {
        *acc = more;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::judge;

    fn bar(goal: Goal, reference: f64, threshold: f64, guard: bool) -> Bar {
        Bar {
            goal,
            reference,
            threshold,
            guard,
        }
    }

    /// The answer of a full evaluation, as the search computes it.
    fn full_answer(metric: Metric, bar: &Bar, reference: &PerSample, all: &PerSample) -> bool {
        let hits = match reference {
            PerSample::Hits(h) => Some(h.as_slice()),
            PerSample::Fidelity { .. } => None,
        };
        let j = judge(metric, all, hits);
        bar.accepts(&Measure::full(j.score, Some(j.interval)))
    }

    fn prefix(p: &PerSample, k: usize) -> PerSample {
        match p {
            PerSample::Hits(h) => PerSample::Hits(h[..k].to_vec()),
            PerSample::Fidelity {
                signal,
                noise,
                cosine,
            } => PerSample::Fidelity {
                signal: signal[..k].to_vec(),
                noise: noise[..k].to_vec(),
                cosine: cosine[..k].to_vec(),
            },
        }
    }

    #[test]
    fn exactly_at_the_threshold_and_when_every_sample_is_needed() {
        // 100 samples, all right for the reference: a loss of 1 point (one
        // sample) is within a threshold of 1, two are not.
        let reference = PerSample::Hits(vec![true; 100]);
        let b = bar(Goal::Loss, 100.0, 1.0, false);
        let seen = |k: usize, lost: usize| PerSample::Hits((0..k).map(|i| i >= lost).collect());
        // Two lost: over the threshold whatever follows.
        assert_eq!(
            verdict(Metric::Top1, &b, &reference, &seen(2, 2)),
            Some(false)
        );
        // One lost after 50: the rest decide.
        assert_eq!(verdict(Metric::Top1, &b, &reference, &seen(50, 1)), None);
        // None lost after 99: losing the last one too is exactly at the
        // threshold, still within.
        assert_eq!(
            verdict(Metric::Top1, &b, &reference, &seen(99, 0)),
            Some(true)
        );
        assert_eq!(verdict(Metric::Top1, &b, &reference, &seen(98, 0)), None);
        // One lost after 99: only the last sample decides.
        assert_eq!(verdict(Metric::Top1, &b, &reference, &seen(99, 1)), None);
        assert_eq!(
            verdict(Metric::Top1, &b, &reference, &seen(100, 1)),
            Some(true)
        );
        // No sample seen: undecided.
        assert_eq!(verdict(Metric::Top1, &b, &reference, &seen(0, 0)), None);
    }

    #[test]
    fn an_early_answer_is_the_full_answer() {
        let mut state = 7u64;
        let mut coin = |p: f64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) < p
        };
        let mut decided = 0;
        for case in 0..60 {
            let n = 20 + case * 3;
            let reference: Vec<bool> = (0..n).map(|_| coin(0.9)).collect();
            let flip = [0.0, 0.02, 0.05, 0.2][case % 4];
            let candidate: Vec<bool> = reference.iter().map(|&r| r ^ coin(flip)).collect();
            let (reference, candidate) = (PerSample::Hits(reference), PerSample::Hits(candidate));
            let ref_score = judge(Metric::Top1, &reference, None).score;
            for guard in [false, true] {
                for threshold in [0.0, 1.0, 2.5, 10.0] {
                    let b = bar(Goal::Loss, ref_score, threshold, guard);
                    let full = full_answer(Metric::Top1, &b, &reference, &candidate);
                    for k in 0..=n {
                        if let Some(early) =
                            verdict(Metric::Top1, &b, &reference, &prefix(&candidate, k))
                        {
                            assert_eq!(
                                early, full,
                                "n {n} k {k} guard {guard} threshold {threshold}"
                            );
                            decided += 1;
                        }
                    }
                }
            }
        }
        assert!(decided > 1000, "{decided}");
    }

    #[test]
    fn fidelity_rejects_early_and_never_accepts_early() {
        let n = 50;
        let signal: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64).collect();
        let reference = PerSample::Fidelity {
            signal: signal.clone(),
            noise: vec![0.0; n],
            cosine: vec![1.0; n],
        };
        for (metric, goal, threshold) in [
            (Metric::Sqnr, Goal::AtLeast, 20.0),
            (Metric::RelL2, Goal::AtMost, 0.1),
            (Metric::Cosine, Goal::AtLeast, 0.99),
        ] {
            for noisy_from in [0, 10, 40, n] {
                let noise: Vec<f64> = (0..n)
                    .map(|i| if i >= noisy_from { 0.5 } else { 1e-4 })
                    .collect();
                let cosine: Vec<f64> = (0..n)
                    .map(|i| if i >= noisy_from { 0.9 } else { 1.0 })
                    .collect();
                let candidate = PerSample::Fidelity {
                    signal: signal.clone(),
                    noise,
                    cosine,
                };
                let b = bar(goal, f64::NAN, threshold, false);
                let full = full_answer(metric, &b, &reference, &candidate);
                for k in 0..=n {
                    let early = verdict(metric, &b, &reference, &prefix(&candidate, k));
                    assert!(
                        early.is_none() || early == Some(full),
                        "{metric:?} {noisy_from} {k}"
                    );
                    assert_ne!(early, Some(true), "{metric:?}: no early accept");
                }
                if noisy_from == 0 {
                    let all = verdict(metric, &b, &reference, &candidate);
                    assert_eq!(all, Some(false), "{metric:?}");
                    // Under --guard (a bootstrap over all samples): never early.
                    let g = bar(goal, f64::NAN, threshold, true);
                    assert_eq!(verdict(metric, &g, &reference, &candidate), None);
                }
            }
        }
    }
}

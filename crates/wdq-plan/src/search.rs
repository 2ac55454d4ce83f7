//! Search strategies for the number m of leading layers (in criterion
//! order) that go to low bits.
//!
//! Every strategy only proposes prefix lengths and records each evaluation;
//! a [`Goal`] says when a candidate's score is acceptable: a loss against
//! the reference within the threshold (accuracy metrics, a user's score),
//! or the score itself at least / at most the threshold (output fidelity).
//! With `guard`, the pessimistic end of the score's 95% interval must be
//! acceptable, not only the score.

use crate::goal::{Bar, Goal, Measure};
use crate::stats::Interval;
use serde::Serialize;
use std::time::{Duration, Instant};

/// How the low-bit layer set is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Selection {
    /// The method's halving search: try the lower half of the candidates,
    /// halve until within the threshold; with a floor, accept once the
    /// candidate count is at or below it even if the loss is over.
    Halving { min_candidates: Option<usize> },
    /// Exact binary search for the longest prefix within the threshold,
    /// assuming the loss grows with the prefix (checked and reported).
    Bisect,
    /// The `n` layers with the smallest statistic.
    Count { n: usize },
    /// Every layer whose statistic is at most `max_statistic`.
    Threshold { max_statistic: f64 },
}

/// Search settings.
#[derive(Clone, Copy, Debug)]
pub struct SearchOptions {
    pub selection: Selection,
    /// The threshold of `goal`, in the metric's unit.
    pub threshold: f64,
    pub goal: Goal,
    /// Accept a candidate only when the pessimistic end of its score's 95%
    /// interval is acceptable.
    pub guard: bool,
    /// Never select the layer with the smallest statistic.
    pub skip_smallest: bool,
    /// Stop proposing candidates after this much time; keep the best found.
    pub time_budget: Option<Duration>,
}

/// One evaluated candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// Number of leading layers (of the eligible order) at low bits.
    pub low_bit_layers: usize,
    /// The score, in the metric's unit (top-1 and agreement in percent).
    pub accuracy: f64,
    /// The loss against the reference, for loss goals.
    pub loss: Option<f64>,
    /// The 95% interval of the score, when the evaluator gave one.
    pub interval: Option<Interval>,
    /// Whether the score is acceptable (with `guard`: its interval's
    /// pessimistic end).
    pub within_threshold: bool,
    /// Set when the evaluation stopped once its answer was certain: the
    /// samples it saw (`accuracy`, `loss` and `interval` are over those).
    pub stopped_after: Option<usize>,
    pub seconds: f64,
}

impl SearchOptions {
    /// The question each candidate answers, against `reference`.
    pub fn bar(&self, reference: f64) -> Bar {
        Bar {
            goal: self.goal,
            reference,
            threshold: self.threshold,
            guard: self.guard,
        }
    }
}

/// What the search decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchOutcome {
    /// Layer indices chosen for low bits (a prefix of the eligible order).
    pub low_bit: Vec<usize>,
    /// The eligible order (the criterion order, without the smallest layer
    /// under `skip_smallest`).
    pub eligible: Vec<usize>,
    pub candidates: Vec<Candidate>,
    /// Whether the chosen set's loss is within the threshold.
    pub met_threshold: bool,
    /// Set when an evaluated larger prefix lost less than a smaller one
    /// that failed: the loss did not grow with the prefix.
    pub non_monotonic: Option<String>,
    pub stopped_by_time_budget: bool,
}

/// Runs the search over `order` (layer indices, best candidate first) with
/// per-layer `scores` (used by `Selection::Threshold`). `evaluate(low)`
/// returns the score with the layers `low` (a prefix of the eligible order:
/// `skip_smallest` is applied here and only here) at low bits; `reference`
/// is the score losses are measured against.
///
/// # Errors
/// Whatever `evaluate` returns.
pub fn search<E, M: Into<Measure>>(
    order: &[usize],
    scores: &[f64],
    reference: f64,
    options: &SearchOptions,
    evaluate: &mut dyn FnMut(&[usize]) -> Result<M, E>,
) -> Result<SearchOutcome, E> {
    let eligible: Vec<usize> = order
        .iter()
        .copied()
        .skip(usize::from(options.skip_smallest))
        .collect();
    let n = eligible.len();
    let started = Instant::now();
    let mut run = Runner {
        evaluate,
        eligible: &eligible,
        reference,
        options,
        candidates: Vec::new(),
    };
    let out_of_time = |s: &Instant| options.time_budget.is_some_and(|b| s.elapsed() >= b);
    let mut stopped = false;
    let chosen = match options.selection {
        Selection::Count { n: count } => run.accept(count.min(n))?,
        Selection::Threshold { max_statistic } => {
            let m = eligible
                .iter()
                .take_while(|&&i| scores[i] <= max_statistic)
                .count();
            run.accept(m)?
        }
        Selection::Halving { min_candidates } => {
            let mut m = n / 2;
            loop {
                if out_of_time(&started) {
                    stopped = true;
                    break run.best_within();
                }
                if m == 0 {
                    break 0;
                }
                let ok = run.within(m)?;
                if ok || min_candidates.is_some_and(|floor| m <= floor) {
                    break m;
                }
                m /= 2;
            }
        }
        Selection::Bisect => {
            // Invariant: `good` is within the threshold (0 always counts as
            // the fallback), `bad` is known to fail or is n + 1.
            let (mut good, mut bad) = (0usize, n + 1);
            if n > 0 && !out_of_time(&started) {
                if run.within(n)? {
                    good = n;
                } else {
                    bad = n;
                }
            }
            while bad - good > 1 {
                if out_of_time(&started) {
                    stopped = true;
                    break;
                }
                let mid = good + (bad - good) / 2;
                if run.within(mid)? {
                    good = mid;
                } else {
                    bad = mid;
                }
            }
            good
        }
    };
    let met_threshold = match run.candidates.iter().find(|c| c.low_bit_layers == chosen) {
        Some(c) => c.within_threshold,
        None => chosen == 0,
    };
    let candidates = run.candidates;
    Ok(SearchOutcome {
        low_bit: eligible[..chosen].to_vec(),
        non_monotonic: non_monotonic(&candidates, options.goal),
        eligible,
        candidates,
        met_threshold,
        stopped_by_time_budget: stopped,
    })
}

struct Runner<'a, E, M> {
    evaluate: &'a mut dyn FnMut(&[usize]) -> Result<M, E>,
    eligible: &'a [usize],
    reference: f64,
    options: &'a SearchOptions,
    candidates: Vec<Candidate>,
}

impl<E, M: Into<Measure>> Runner<'_, E, M> {
    fn measure(&mut self, m: usize) -> Result<&Candidate, E> {
        if let Some(i) = self.candidates.iter().position(|c| c.low_bit_layers == m) {
            return Ok(&self.candidates[i]);
        }
        let started = Instant::now();
        let measure: Measure = (self.evaluate)(&self.eligible[..m])?.into();
        self.candidates.push(Candidate {
            low_bit_layers: m,
            accuracy: measure.score,
            loss: self.options.goal.loss(self.reference, measure.score),
            interval: measure.interval,
            within_threshold: self.options.bar(self.reference).accepts(&measure),
            stopped_after: measure.stopped.map(|s| s.samples),
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(self.candidates.last().expect("just pushed"))
    }

    fn within(&mut self, m: usize) -> Result<bool, E> {
        Ok(self.measure(m)?.within_threshold)
    }

    /// Evaluates `m` for the record and returns it (fixed-size selections).
    fn accept(&mut self, m: usize) -> Result<usize, E> {
        self.measure(m)?;
        Ok(m)
    }

    fn best_within(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| c.within_threshold)
            .map(|c| c.low_bit_layers)
            .max()
            .unwrap_or(0)
    }
}

/// Compares the candidates measured on every sample (a stopped one's score
/// covers only the samples it saw).
fn non_monotonic(candidates: &[Candidate], goal: Goal) -> Option<String> {
    let mut sorted: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.stopped_after.is_none())
        .collect();
    sorted.sort_by_key(|c| c.low_bit_layers);
    let bad = |c: &Candidate| goal.badness(c.accuracy);
    for (i, small) in sorted.iter().enumerate() {
        if let Some(large) = sorted[i + 1..].iter().find(|l| bad(l) < bad(small)) {
            return Some(format!(
                "{} low-bit layers scored {:.3} but {} scored {:.3}: the loss did not grow with the prefix, so the search may have missed a longer prefix",
                small.low_bit_layers, small.accuracy, large.low_bit_layers, large.accuracy
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(selection: Selection) -> SearchOptions {
        SearchOptions {
            selection,
            threshold: 1.0,
            goal: Goal::Loss,
            guard: false,
            skip_smallest: false,
            time_budget: None,
        }
    }

    /// Accuracy that drops 0.3 points per low-bit layer from 90%.
    fn linear(low: &[usize]) -> Result<f64, ()> {
        Ok(90.0 - 0.3 * low.len() as f64)
    }

    #[test]
    fn bisect_finds_the_longest_prefix_within_few_evaluations() {
        let order: Vec<usize> = (0..20).collect();
        let scores = vec![0.0; 20];
        let out = search(
            &order,
            &scores,
            90.0,
            &options(Selection::Bisect),
            &mut linear,
        )
        .unwrap();
        assert_eq!(out.low_bit.len(), 3); // 3 * 0.3 = 0.9 <= 1.0 < 1.2
        assert!(out.met_threshold);
        assert!(
            out.candidates.len() <= 20f64.log2().ceil() as usize + 1,
            "{}",
            out.candidates.len()
        );
        assert!(out.non_monotonic.is_none());
    }

    #[test]
    fn halving_halves_until_within_and_honours_the_floor() {
        let order: Vec<usize> = (0..16).collect();
        let scores = vec![0.0; 16];
        let out = search(
            &order,
            &scores,
            90.0,
            &options(Selection::Halving {
                min_candidates: None,
            }),
            &mut linear,
        )
        .unwrap();
        let tried: Vec<usize> = out.candidates.iter().map(|c| c.low_bit_layers).collect();
        assert_eq!(tried, vec![8, 4, 2]);
        assert_eq!(out.low_bit.len(), 2);
        let floor = Selection::Halving {
            min_candidates: Some(5),
        };
        let out = search(&order, &scores, 90.0, &options(floor), &mut linear).unwrap();
        assert_eq!(out.low_bit.len(), 4);
        assert!(!out.met_threshold);
    }

    #[test]
    fn count_threshold_and_skip_smallest() {
        let order = vec![2, 0, 1];
        let scores = vec![0.2, 0.5, 0.1];
        let mut opts = options(Selection::Threshold { max_statistic: 0.3 });
        let out = search(&order, &scores, 90.0, &opts, &mut linear).unwrap();
        assert_eq!(out.low_bit, vec![2, 0]);
        opts.skip_smallest = true;
        opts.selection = Selection::Count { n: 5 };
        let out = search(&order, &scores, 90.0, &opts, &mut linear).unwrap();
        assert_eq!(out.low_bit, vec![0, 1]);
    }

    #[test]
    fn non_monotonic_loss_is_reported() {
        let order: Vec<usize> = (0..8).collect();
        let mut bumpy = |low: &[usize]| -> Result<f64, ()> {
            Ok(match low.len() {
                6 => 87.0,
                8 => 88.0,
                _ => 90.0 - 0.1 * low.len() as f64,
            })
        };
        let out = search(
            &order,
            &[0.0; 8],
            90.0,
            &options(Selection::Bisect),
            &mut bumpy,
        )
        .unwrap();
        let tried: Vec<usize> = out.candidates.iter().map(|c| c.low_bit_layers).collect();
        assert_eq!(tried, vec![8, 4, 6, 5]);
        assert_eq!(out.low_bit.len(), 5);
        assert!(
            out.non_monotonic
                .as_deref()
                .is_some_and(|s| s.starts_with("6 low-bit layers")),
            "{out:?}"
        );
    }

    #[test]
    fn nothing_within_threshold_falls_back_to_zero() {
        let order: Vec<usize> = (0..4).collect();
        let mut bad =
            |low: &[usize]| -> Result<f64, ()> { Ok(if low.is_empty() { 90.0 } else { 50.0 }) };
        let out = search(
            &order,
            &[0.0; 4],
            90.0,
            &options(Selection::Bisect),
            &mut bad,
        )
        .unwrap();
        assert!(out.low_bit.is_empty());
        assert!(out.met_threshold);
    }

    #[test]
    fn fidelity_bounds_and_the_guard() {
        let order: Vec<usize> = (0..10).collect();
        // SQNR falls 3 dB per low-bit layer from 40 dB; the interval is +-4 dB.
        let mut sqnr = |low: &[usize]| -> Result<Measure, ()> {
            let m = low.len();
            let score = 40.0 - 3.0 * m as f64;
            Ok(Measure::full(
                score,
                Some(Interval {
                    low: score - 4.0,
                    high: score + 4.0,
                }),
            ))
        };
        let mut opts = options(Selection::Bisect);
        opts.goal = Goal::AtLeast;
        opts.threshold = 25.0;
        let out = search(&order, &[0.0; 10], f64::NAN, &opts, &mut sqnr).unwrap();
        assert_eq!(out.low_bit.len(), 5); // 40 - 15 = 25 >= 25 > 22
        assert!(out.candidates.iter().all(|c| c.loss.is_none()));
        opts.guard = true;
        let out = search(&order, &[0.0; 10], f64::NAN, &opts, &mut sqnr).unwrap();
        assert_eq!(out.low_bit.len(), 3); // 40 - 9 - 4 = 27 >= 25 > 24
        opts.goal = Goal::AtMost;
        opts.guard = false;
        let mut err = |low: &[usize]| -> Result<f64, ()> { Ok(0.01 * low.len() as f64) };
        opts.threshold = 0.045;
        let out = search(&order, &[0.0; 10], f64::NAN, &opts, &mut err).unwrap();
        assert_eq!(out.low_bit.len(), 4);
    }
}

//! The metrics a candidate is judged by, computed from per-sample figures,
//! with each figure's resolution and 95% interval (see [`crate::stats`]).
//!
//! Two families: accuracy metrics count samples (top-1 against labels,
//! top-1 and top-5 agreement with the reference model), and their
//! threshold is a loss in percentage points against the reference; output
//! fidelity metrics compare the candidate's outputs with the reference's on
//! every element (SQNR in dB, relative L2 error, cosine similarity), need
//! no labels, and their threshold bounds the figure itself.

use crate::stats::{bootstrap, paired_loss_counts, resolution, Interval};
use serde::Serialize;

/// Which metric judges a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Top-1 accuracy against the validation labels.
    Top1,
    /// Top-1 agreement with the reference model.
    Agreement,
    /// The reference's top-1 class is among the candidate's top 5.
    Top5Agreement,
    /// 10 log10(sum ref^2 / sum (out - ref)^2), in dB.
    Sqnr,
    /// ||out - ref|| / ||ref|| over all elements.
    RelL2,
    /// Mean over samples of the cosine similarity of out and ref.
    Cosine,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::Top1,
        Metric::Agreement,
        Metric::Top5Agreement,
        Metric::Sqnr,
        Metric::RelL2,
        Metric::Cosine,
    ];

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Top1 => "top1",
            Metric::Agreement => "agreement",
            Metric::Top5Agreement => "top5-agreement",
            Metric::Sqnr => "sqnr",
            Metric::RelL2 => "rel-l2",
            Metric::Cosine => "cosine",
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == text)
    }

    /// How the report names the figure.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Top1 => "top-1",
            Metric::Agreement => "top-1 agreement",
            Metric::Top5Agreement => "top-5 agreement",
            Metric::Sqnr => "SQNR",
            Metric::RelL2 => "relative L2 error",
            Metric::Cosine => "cosine similarity",
        }
    }

    /// The unit of the figure (and of its threshold).
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Top1 | Metric::Agreement | Metric::Top5Agreement => "%",
            Metric::Sqnr => "dB",
            Metric::RelL2 | Metric::Cosine => "",
        }
    }

    /// Counts samples (threshold: a loss in points) rather than comparing
    /// outputs element by element (threshold: a bound on the figure).
    pub fn is_accuracy(self) -> bool {
        matches!(
            self,
            Metric::Top1 | Metric::Agreement | Metric::Top5Agreement
        )
    }

    pub fn higher_is_better(self) -> bool {
        self != Metric::RelL2
    }

    /// The threshold when none is given: 1 point, 20 dB, 0.1, 0.995.
    pub fn default_threshold(self) -> f64 {
        match self {
            Metric::Top1 | Metric::Agreement | Metric::Top5Agreement => 1.0,
            Metric::Sqnr => 20.0,
            Metric::RelL2 => 0.1,
            Metric::Cosine => 0.995,
        }
    }

    /// What the threshold means, for reports.
    pub fn threshold_meaning(self, threshold: f64) -> String {
        match self {
            m if m.is_accuracy() => format!("loss at most {threshold} points"),
            Metric::RelL2 => format!("relative L2 error at most {threshold}"),
            m => format!("{} at least {threshold}{}", m.label(), m.unit()),
        }
    }
}

/// A candidate's figures per validation sample.
#[derive(Clone, Debug, PartialEq)]
pub enum PerSample {
    /// Whether each sample counts (accuracy metrics).
    Hits(Vec<bool>),
    /// Per sample: reference energy, error energy and cosine similarity.
    Fidelity {
        signal: Vec<f64>,
        noise: Vec<f64>,
        cosine: Vec<f64>,
    },
}

impl PerSample {
    pub fn len(&self) -> usize {
        match self {
            PerSample::Hits(h) => h.len(),
            PerSample::Fidelity { signal, .. } => signal.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The metric over the samples `pick` (indices may repeat).
    pub fn figure(&self, metric: Metric, pick: &[usize]) -> f64 {
        match self {
            PerSample::Hits(hits) => percent(pick.iter().filter(|&&i| hits[i]).count(), pick.len()),
            PerSample::Fidelity {
                signal,
                noise,
                cosine,
            } => {
                let sum = |v: &[f64]| pick.iter().map(|&i| v[i]).sum::<f64>();
                match metric {
                    Metric::RelL2 => (sum(noise) / sum(signal)).sqrt(),
                    Metric::Cosine => sum(cosine) / pick.len().max(1) as f64,
                    _ => 10.0 * (sum(signal) / sum(noise)).log10(),
                }
            }
        }
    }
}

/// A candidate's figure with its resolution and 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Judged {
    pub score: f64,
    /// What one sample changes, in the metric's unit.
    pub resolution: f64,
    /// 95% interval of the score. For accuracy metrics it is the paired
    /// interval of the loss against the reference, expressed as a score
    /// (`reference - loss`).
    pub interval: Interval,
}

/// Bootstrap resamples of fidelity intervals.
const RESAMPLES: usize = 1000;

/// Judges `candidate` by `metric`. `reference` holds the reference model's
/// hits on the same samples (accuracy metrics; `None` for fidelity ones).
pub fn judge(metric: Metric, candidate: &PerSample, reference: Option<&[bool]>) -> Judged {
    let n = candidate.len();
    let all: Vec<usize> = (0..n).collect();
    let figure = |pick: &[usize]| candidate.figure(metric, pick);
    let score = figure(&all);
    let interval = match (candidate, reference) {
        (PerSample::Hits(hits), Some(reference)) => {
            let (mut lost, mut gained) = (0, 0);
            for (&r, &c) in reference.iter().zip(hits) {
                lost += usize::from(r && !c);
                gained += usize::from(!r && c);
            }
            let held = reference.iter().filter(|&&h| h).count();
            hits_judged(n.min(reference.len()), held, lost, gained).1
        }
        _ => bootstrap(n, RESAMPLES, 0x5eed, &figure),
    };
    Judged {
        score,
        resolution: match candidate {
            PerSample::Hits(_) => 100.0 / n.max(1) as f64,
            PerSample::Fidelity { .. } => resolution(n, &figure),
        },
        interval,
    }
}

/// `count` samples of `n` in percent: the score of the accuracy metrics.
pub fn percent(count: usize, n: usize) -> f64 {
    100.0 * count as f64 / n.max(1) as f64
}

/// The score and the 95% interval [`judge`] gives a candidate that, on
/// `n` samples of which the reference gets `reference_hits` right, lost
/// `lost` samples and gained `gained` (the paired interval of the loss,
/// expressed as a score). A function of these counts only, so that an
/// evaluation that stops early can try every way the rest could go.
pub fn hits_judged(n: usize, reference_hits: usize, lost: usize, gained: usize) -> (f64, Interval) {
    let hits = (reference_hits + gained).saturating_sub(lost);
    let ref_score = percent(reference_hits, n);
    let (_, loss) = paired_loss_counts(lost, gained, n);
    let interval = Interval {
        low: ref_score - loss.high,
        high: ref_score - loss.low,
    };
    (percent(hits, n), interval)
}

/// Per-sample figures of `candidate` against `reference` outputs: `n`
/// samples of `width` values each, row-major. `labels` is needed by
/// [`Metric::Top1`] (the labels replace the reference's argmax).
pub fn per_sample(
    metric: Metric,
    reference: &[f32],
    candidate: &[f32],
    width: usize,
    labels: Option<&[i64]>,
) -> PerSample {
    let rows = reference
        .chunks(width.max(1))
        .zip(candidate.chunks(width.max(1)));
    match metric {
        Metric::Top1 | Metric::Agreement => PerSample::Hits(
            rows.enumerate()
                .map(|(i, (r, c))| {
                    let truth = match labels {
                        Some(l) if metric == Metric::Top1 => l[i],
                        _ => argmax(r) as i64,
                    };
                    argmax(c) as i64 == truth
                })
                .collect(),
        ),
        Metric::Top5Agreement => PerSample::Hits(
            rows.map(|(r, c)| {
                let truth = argmax(r);
                // Rank of the truth in the candidate: classes scoring higher
                // (or equal, earlier: argmax's tie rule).
                let above = c
                    .iter()
                    .enumerate()
                    .filter(|&(k, &v)| v > c[truth] || (v == c[truth] && k < truth))
                    .count();
                above < 5
            })
            .collect(),
        ),
        Metric::Sqnr | Metric::RelL2 | Metric::Cosine => {
            let (mut signal, mut noise, mut cosine) = (Vec::new(), Vec::new(), Vec::new());
            for (r, c) in rows {
                let (mut rr, mut cc, mut rc, mut ee) = (0f64, 0f64, 0f64, 0f64);
                for (&a, &b) in r.iter().zip(c) {
                    let (a, b) = (a as f64, b as f64);
                    rr += a * a;
                    cc += b * b;
                    rc += a * b;
                    ee += (b - a) * (b - a);
                }
                signal.push(rr);
                noise.push(ee);
                // Clamped: rounding can leave a cosine a few ulps above 1;
                // bounded, a sample's share of the mean is bounded too,
                // which the early stop of `crate::early` relies on.
                cosine.push(if rr == 0.0 && cc == 0.0 {
                    1.0
                } else {
                    (rc / (rr.sqrt() * cc.sqrt()).max(f64::MIN_POSITIVE)).clamp(-1.0, 1.0)
                });
            }
            PerSample::Fidelity {
                signal,
                noise,
                cosine,
            }
        }
    }
}

pub use crate::combine::{combine, combine_scaled, signal_mean};

/// Index of the first maximum (numpy's tie rule; NaN never wins).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] || (row[best].is_nan() && !x.is_nan()) {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fidelity_figures_of_a_known_error() {
        // Two samples, ref [3, 4] and [0, 5]; the error is 0.5 on one element.
        let reference = [3.0, 4.0, 0.0, 5.0];
        let candidate = [3.5, 4.0, 0.0, 5.0];
        let all = [0, 1];
        let p = per_sample(Metric::Sqnr, &reference, &candidate, 2, None);
        // signal 25 + 25 = 50, noise 0.25: 10 log10(200) = 23.01 dB.
        let sqnr = p.figure(Metric::Sqnr, &all);
        assert!((sqnr - 23.0103).abs() < 1e-3, "{sqnr}");
        assert!((p.figure(Metric::RelL2, &all) - (0.25f64 / 50.0).sqrt()).abs() < 1e-12);
        let cos0 = (3.0 * 3.5 + 16.0) / (5.0 * (3.5f64 * 3.5 + 16.0).sqrt());
        assert!((p.figure(Metric::Cosine, &all) - (cos0 + 1.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn accuracy_figures_and_their_intervals() {
        let reference = [0.0, 1.0, 0.2, 0.9, 0.1, 0.0, 0.5, 0.4];
        let candidate = [0.0, 1.0, 0.9, 0.2, 0.1, 0.0, 0.4, 0.5];
        let a = per_sample(Metric::Agreement, &reference, &candidate, 2, None);
        assert_eq!(a, PerSample::Hits(vec![true, false, true, false]));
        let t = per_sample(Metric::Top1, &reference, &candidate, 2, Some(&[1, 0, 1, 1]));
        assert_eq!(t, PerSample::Hits(vec![true, true, false, true]));
        let j = judge(Metric::Agreement, &a, Some(&[true; 4]));
        assert_eq!((j.score, j.resolution), (50.0, 25.0));
        assert!(j.interval.low < 50.0 && 50.0 < j.interval.high, "{j:?}");
        // Top-5 of six classes: the truth (class 0) is 6th in the second row.
        let reference = [9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let candidate = [0.6, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let p = per_sample(Metric::Top5Agreement, &reference, &candidate, 6, None);
        assert_eq!(p, PerSample::Hits(vec![true, false]));
    }

    #[test]
    fn outputs_combine_per_sample() {
        let a = PerSample::Hits(vec![true, true, false]);
        let b = PerSample::Hits(vec![true, false, false]);
        assert_eq!(
            combine(vec![a, b]),
            PerSample::Hits(vec![true, false, false])
        );
        // Output scales do not matter: 1% noise on both -> 20 dB.
        let small = per_sample(Metric::Sqnr, &[1.0, 1.0], &[1.1, 0.9], 1, None);
        let large = per_sample(Metric::Sqnr, &[100.0, 100.0], &[110.0, 90.0], 1, None);
        let both = combine(vec![small, large]);
        assert!((both.figure(Metric::Sqnr, &[0, 1]) - 20.0).abs() < 1e-4);
    }
}

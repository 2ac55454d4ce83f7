//! What makes a candidate's score acceptable: a loss against the reference
//! within the threshold (accuracy metrics, a user's score), or the score
//! itself at least / at most the threshold (output fidelity); and a score
//! with its 95% interval, whose pessimistic end `--guard` judges.

use crate::stats::Interval;
use serde::Serialize;

/// What makes a score acceptable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Goal {
    /// The loss `reference - score` (or `score - reference` when lower is
    /// better) is at most the threshold.
    #[default]
    Loss,
    /// Lower scores are better; the loss is `score - reference`.
    LossLowerIsBetter,
    /// The score is at least the threshold.
    AtLeast,
    /// The score is at most the threshold.
    AtMost,
}

impl Goal {
    /// The loss of `score`, for loss goals.
    pub fn loss(self, reference: f64, score: f64) -> Option<f64> {
        match self {
            Goal::Loss => Some(reference - score),
            Goal::LossLowerIsBetter => Some(score - reference),
            Goal::AtLeast | Goal::AtMost => None,
        }
    }

    /// A figure that grows as the score gets worse.
    pub(crate) fn badness(self, score: f64) -> f64 {
        match self {
            Goal::Loss | Goal::AtLeast => -score,
            Goal::LossLowerIsBetter | Goal::AtMost => score,
        }
    }

    /// Whether `score` is acceptable under `threshold`. Scores that are
    /// percentages of sample counts are compared with a little slack for
    /// the rounding of their difference (97.7 - 96.7 > 1.0 in f64).
    pub fn accepts(self, reference: f64, threshold: f64, score: f64) -> bool {
        match self {
            Goal::Loss | Goal::LossLowerIsBetter => self
                .loss(reference, score)
                .is_some_and(|l| l <= threshold + 1e-9),
            Goal::AtLeast => score >= threshold - 1e-9,
            Goal::AtMost => score <= threshold + 1e-9,
        }
    }

    /// The end of `interval` that is worst for this goal.
    pub fn pessimistic(self, interval: Interval) -> f64 {
        match self {
            Goal::Loss | Goal::AtLeast => interval.low,
            Goal::LossLowerIsBetter | Goal::AtMost => interval.high,
        }
    }
}

/// A measured score, with its 95% interval when the evaluator knows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measure {
    /// The score; for a stopped evaluation, over the samples seen.
    pub score: f64,
    pub interval: Option<Interval>,
    /// Set when the evaluator stopped before the last sample because the
    /// answer to the [`Bar`] it was given was already certain.
    pub stopped: Option<Stopped>,
}

impl Measure {
    /// A score over every sample.
    pub fn full(score: f64, interval: Option<Interval>) -> Measure {
        Measure {
            score,
            interval,
            stopped: None,
        }
    }
}

impl From<f64> for Measure {
    fn from(score: f64) -> Measure {
        Measure::full(score, None)
    }
}

/// An evaluation stopped early: its answer, and how many samples it saw.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stopped {
    pub accepted: bool,
    pub samples: usize,
}

/// The question a candidate's score answers: is it acceptable under the
/// goal, the threshold and the reference, judged (with `guard`) by the
/// pessimistic end of its interval. The one place the search's acceptance
/// rule lives; evaluators that stop early answer the same question.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub goal: Goal,
    pub reference: f64,
    pub threshold: f64,
    pub guard: bool,
}

impl Bar {
    /// The figure the goal judges: the score, or with `guard` the
    /// pessimistic end of its interval when there is one.
    pub fn judged(&self, score: f64, interval: Option<Interval>) -> f64 {
        match (self.guard, interval) {
            (true, Some(i)) => self.goal.pessimistic(i),
            _ => score,
        }
    }

    /// Whether a full measure is acceptable; a stopped one carries its answer.
    pub fn accepts(&self, measure: &Measure) -> bool {
        match measure.stopped {
            Some(s) => s.accepted,
            None => self.goal.accepts(
                self.reference,
                self.threshold,
                self.judged(measure.score, measure.interval),
            ),
        }
    }
}

//! How the search scores a candidate: the built-in metric on the
//! validation data (with its resolution and paired interval), or a
//! caller's [`Evaluator`]; the reference's and the all-high model's
//! scores, and the [`Goal`] the threshold applies to.

use super::{CandidateEvaluator, Evaluator, Metric, QuantizeError, QuantizeOptions, Reference};
use wdq_ir::{Model, NodeId};
use wdq_plan::metric::Judged;
use wdq_plan::stats::{paired_loss, Interval};
use wdq_plan::{Goal, Measure};

/// The scoring as the report tells it.
pub(super) struct Summary {
    pub name: String,
    pub unit: String,
    pub meaning: String,
    pub goal: Goal,
    pub threshold: f64,
    pub fp32: f64,
    pub all_high: f64,
    pub all_high_interval: Option<Interval>,
    pub reference: f64,
    pub resolution: Option<f64>,
    pub evaluator_seconds: Option<f64>,
    pub warnings: Vec<String>,
}

/// Scores candidates for one run of the search.
pub(super) struct Scorer<'e, 'a, 'c> {
    pub evaluator: &'e mut CandidateEvaluator<'a>,
    pub custom: Option<&'c mut dyn Evaluator>,
    pub goal: Goal,
    pub threshold: f64,
    /// The original model's score.
    pub fp32: f64,
    /// The all-high model's score, with its figures when built in.
    pub all_high: f64,
    pub all_high_judged: Option<Judged>,
    /// The score losses are measured against.
    pub reference: f64,
    /// Caveats about what the validation data can resolve.
    pub warnings: Vec<String>,
}

impl<'e, 'a, 'c> Scorer<'e, 'a, 'c> {
    /// Scores the original and the all-high model and fixes the goal.
    ///
    /// # Errors
    /// [`QuantizeError`] from lowering, execution or the evaluator.
    pub fn new(
        evaluator: &'e mut CandidateEvaluator<'a>,
        mut custom: Option<&'c mut dyn Evaluator>,
        model: &Model,
        options: &QuantizeOptions,
    ) -> Result<Self, QuantizeError> {
        let all_high_model = evaluator.lower(&[])?.model;
        let (goal, threshold, fp32, all_high, all_high_judged) = match custom.as_deref_mut() {
            Some(c) => {
                let goal = if c.higher_is_better() {
                    Goal::Loss
                } else {
                    Goal::LossLowerIsBetter
                };
                let fp32 = c.score(model)?;
                let high = c.score(&all_high_model)?;
                (goal, options.threshold.unwrap_or(0.0), fp32, high, None)
            }
            None => {
                let metric = evaluator.metric;
                let outputs = evaluator.run(&all_high_model)?;
                if options.reference == Reference::High {
                    evaluator.use_reference(outputs.clone());
                }
                let judged = evaluator.judge(&outputs);
                let goal = match metric {
                    m if m.is_accuracy() => Goal::Loss,
                    Metric::RelL2 => Goal::AtMost,
                    _ => Goal::AtLeast,
                };
                let threshold = options.threshold.unwrap_or(metric.default_threshold());
                (
                    goal,
                    threshold,
                    evaluator.fp32_accuracy,
                    judged.score,
                    Some(judged),
                )
            }
        };
        let reference = match options.reference {
            Reference::Fp32 => fp32,
            Reference::High => all_high,
        };
        let mut scorer = Scorer {
            evaluator,
            custom,
            goal,
            threshold,
            fp32,
            all_high,
            all_high_judged,
            reference,
            warnings: Vec::new(),
        };
        scorer.warnings = scorer.resolution_warnings(options);
        Ok(scorer)
    }

    /// The score of `low` at low bits (m = 0 is the all-high model, already
    /// scored).
    ///
    /// # Errors
    /// [`QuantizeError`] from lowering, execution or the evaluator.
    pub fn measure(&mut self, low: &[NodeId]) -> Result<Measure, QuantizeError> {
        if low.is_empty() {
            return Ok(Measure {
                score: self.all_high,
                interval: self.all_high_judged.map(|j| j.interval),
            });
        }
        let lowered = self.evaluator.lower(low)?;
        Ok(match self.custom.as_deref_mut() {
            Some(c) => c.score(&lowered.model)?.into(),
            None => {
                let judged = self.evaluator.judge(&self.evaluator.run(&lowered.model)?);
                Measure {
                    score: judged.score,
                    interval: Some(judged.interval),
                }
            }
        })
    }

    /// Whether the all-high model is within the threshold.
    pub fn all_high_within(&self, guard: bool) -> bool {
        let score = match (guard, self.all_high_judged) {
            (true, Some(j)) => self.goal.pessimistic(j.interval),
            _ => self.all_high,
        };
        self.goal.accepts(self.reference, self.threshold, score)
    }

    /// What the report needs to know of the scoring.
    pub fn summary(&self) -> Summary {
        let metric = self.evaluator.metric;
        let (name, unit, meaning) = match &self.custom {
            Some(c) => (
                c.name(),
                "the evaluator's".to_string(),
                format!(
                    "loss at most {} ({} is better)",
                    self.threshold,
                    if self.goal == Goal::Loss {
                        "higher"
                    } else {
                        "lower"
                    }
                ),
            ),
            None => (
                metric.label().to_string(),
                match metric.unit() {
                    "%" => "% (losses in points)".to_string(),
                    "" => "ratio".to_string(),
                    u => u.to_string(),
                },
                metric.threshold_meaning(self.threshold),
            ),
        };
        Summary {
            name,
            unit,
            meaning,
            goal: self.goal,
            threshold: self.threshold,
            fp32: self.fp32,
            all_high: self.all_high,
            all_high_interval: self.all_high_judged.map(|j| j.interval),
            reference: self.reference,
            resolution: self.all_high_judged.map(|j| j.resolution),
            evaluator_seconds: self.custom.as_ref().map(|c| c.seconds()),
            warnings: self.warnings.clone(),
        }
    }

    fn resolution_warnings(&self, options: &QuantizeOptions) -> Vec<String> {
        let metric = self.evaluator.metric;
        let (Some(judged), true) = (self.all_high_judged, metric.is_accuracy()) else {
            return Vec::new();
        };
        let n = (100.0 / judged.resolution).round() as usize;
        let mut out = Vec::new();
        if self.threshold < judged.resolution {
            out.push(format!(
                "the threshold of {} points is below the resolution of {n} validation samples ({:.2} points per sample): only candidates that lose no sample on balance fit",
                self.threshold, judged.resolution
            ));
        }
        let unchanged = vec![true; n];
        let (_, interval) = paired_loss(&unchanged, &unchanged);
        if interval.high > self.threshold {
            out.push(format!(
                "{n} validation samples are too few for a threshold of {} points: even a candidate that changes no prediction has a 95% upper bound of {:.2} points on its loss{}",
                self.threshold,
                interval.high,
                if options.guard {
                    ", so --guard accepts no low-bit layer"
                } else {
                    " (--guard would accept none)"
                }
            ));
        }
        out
    }
}

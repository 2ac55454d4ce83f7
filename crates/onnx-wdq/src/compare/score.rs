//! Computing every requested criterion's per-layer scores, and what each
//! cost: one fine-tuning run shared by the drift criteria, one probe of the
//! weights shared by range, max |w|, normalised drift, SQNR and gradient,
//! one evaluation per layer for layer accuracy.

use super::cache::EvaluationCache;
use super::drift_scores::drift_scores;
use super::report::{Cost, TrainingSummary};
use super::sensitivity::{gradient_scores, output_sqnr, probe_weights, ProbedLayer};
use super::{CompareError, CompareObserver, CompareOptions};
use crate::data::Dataset;
use crate::quantize::CandidateEvaluator;
use std::collections::BTreeSet;
use std::time::Instant;
use wdq_plan::criteria::{normalized_drift, Criterion, WeightStats};
use wdq_train::{fine_tune, StepProgress, TrainObserver};

/// Forwards fine-tuning progress to a [`CompareObserver`].
struct Training<'o>(&'o mut dyn CompareObserver);

impl TrainObserver for Training<'_> {
    fn on_step(&mut self, progress: &StepProgress) {
        self.0.on_step(progress);
    }

    fn on_cycle(
        &mut self,
        cycle: usize,
        params: &[(&str, &wdq_exec::TensorValue)],
    ) -> Result<(), String> {
        self.0.on_cycle(cycle, params)
    }
}

/// A criterion's scores (graph order) and their cost.
pub(super) struct Scored {
    pub criterion: Criterion,
    pub scores: Vec<f64>,
    pub cost: Cost,
}

/// All scores, and the training run when there was one.
pub(super) struct Scoring {
    pub scored: Vec<Scored>,
    pub training: Option<TrainingSummary>,
}

/// Scores every criterion of `options.criteria` except random.
///
/// # Errors
/// [`CompareError`] from fine-tuning, probing or evaluating.
pub(super) fn score_all(
    evaluator: &CandidateEvaluator<'_>,
    cache: &mut EvaluationCache<'_, '_>,
    train: &Dataset,
    reference: f64,
    options: &CompareOptions,
    observer: &mut dyn CompareObserver,
) -> Result<Scoring, CompareError> {
    let layers = &evaluator.candidates.layers;
    let n = layers.len();
    let wanted = |f: fn(&Criterion) -> bool| options.criteria.iter().any(f);
    let q = &options.quantize;

    let mut training = None;
    let mut train_cost = Cost::default();
    let mut report = None;
    if wanted(|c| c.needs_training()) {
        let r = fine_tune(
            &evaluator.candidates.base,
            train,
            &q.train,
            &mut Training(observer),
        )?;
        train_cost = Cost {
            evaluations: 0,
            seconds: r.seconds,
            training_cycles: q.train.cycles,
            training_steps: q.train.cycles * r.steps_per_cycle,
            work: format!(
                "one fine-tuning run ({} cycles x {} steps), shared by the drift criteria",
                q.train.cycles, r.steps_per_cycle
            ),
        };
        training = Some(TrainingSummary {
            cycles: q.train.cycles,
            steps_per_cycle: r.steps_per_cycle,
            loss: r.loss.clone(),
            loss_per_cycle: r.loss_per_cycle.clone(),
            seconds: r.seconds,
            statistic: q.statistic.name().to_string(),
            drift: drift_scores(&r, layers, q.statistic),
        });
        report = Some(r);
    }

    let needs_probe = |c: &Criterion| {
        matches!(
            c,
            Criterion::NormalizedDrift
                | Criterion::Range
                | Criterion::MaxAbs
                | Criterion::Sqnr
                | Criterion::Gradient
        )
    };
    let mut probed: Vec<ProbedLayer> = Vec::new();
    let mut probe_seconds = 0.0;
    if wanted(needs_probe) {
        let clock = Instant::now();
        probed = probe_weights(
            &evaluator.candidates.base,
            &evaluator.candidates.layers,
            train,
            q.low_bits,
            &q.lower,
        )?;
        probe_seconds = clock.elapsed().as_secs_f64();
    }
    let stats: Vec<WeightStats> = probed
        .iter()
        .map(|p| match p.weight.as_slice() {
            Some(values) => WeightStats::of(values),
            None => WeightStats::of(&p.weight.iter().copied().collect::<Vec<f32>>()),
        })
        .collect();
    let weights_cost = |what: &str, extra: f64| Cost {
        seconds: probe_seconds + extra,
        work: what.to_string(),
        ..Cost::default()
    };

    let mut scored = Vec::new();
    for &criterion in &options.criteria {
        let (scores, cost) = match criterion {
            Criterion::Random => continue,
            Criterion::Drift(statistic) => {
                let Some(r) = &report else { continue };
                (drift_scores(r, layers, statistic), train_cost.clone())
            }
            Criterion::NormalizedDrift => {
                let Some(r) = &report else { continue };
                let drift = drift_scores(r, layers, q.statistic);
                let mut cost = train_cost.clone();
                cost.seconds += probe_seconds;
                cost.work += "; the weights read once";
                (normalized_drift(&drift, &stats), cost)
            }
            Criterion::Range => (
                stats.iter().map(|s| s.range).collect(),
                weights_cost("the weights read once", 0.0),
            ),
            Criterion::MaxAbs => (
                stats.iter().map(|s| s.max_abs).collect(),
                weights_cost("the weights read once", 0.0),
            ),
            Criterion::Sqnr => {
                let clock = Instant::now();
                let samples = q.calibration_samples.min(train.len);
                let sqnr = output_sqnr(
                    &evaluator.candidates.base,
                    &probed,
                    train,
                    samples,
                    q.eval_batch_size,
                )?;
                let work = format!(
                    "a float forward pass over {samples} training samples and one kernel per layer"
                );
                (sqnr, weights_cost(&work, clock.elapsed().as_secs_f64()))
            }
            Criterion::Gradient => {
                let clock = Instant::now();
                let scores = gradient_scores(
                    &evaluator.candidates.base,
                    &probed,
                    train,
                    options.gradient_batches,
                    q.train.batch_size,
                    q.train.seed,
                )?;
                let work = format!(
                    "{} training steps at learning rate 0 (batch {}, {})",
                    options.gradient_batches,
                    q.train.batch_size,
                    if train.labels.is_some() {
                        "labels"
                    } else {
                        "the model's own top-1 as labels"
                    }
                );
                (scores, weights_cost(&work, clock.elapsed().as_secs_f64()))
            }
            Criterion::LayerAccuracy => {
                let clock = Instant::now();
                let sets: Vec<BTreeSet<usize>> = (0..n).map(|i| BTreeSet::from([i])).collect();
                cache.ensure(&sets, "layer accuracy", observer)?;
                let losses = sets
                    .iter()
                    .map(|s| cache.get(s).map_or(f64::NAN, |m| reference - m.accuracy))
                    .collect();
                let cost = Cost {
                    evaluations: n,
                    seconds: clock.elapsed().as_secs_f64(),
                    work: format!("{n} full evaluations, one per layer alone at low bits"),
                    ..Cost::default()
                };
                (losses, cost)
            }
        };
        scored.push(Scored {
            criterion,
            scores,
            cost,
        });
    }
    Ok(Scoring { scored, training })
}

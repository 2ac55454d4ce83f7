//! `compare`: layer-ordering criteria side by side. Every criterion orders
//! the weighted layers; for each order the first m layers go to low bits
//! (the rest high) for every evaluated m, giving a loss curve; halving and
//! bisect run on each order from the same measurements. Identical layer
//! sets are measured once (see `cache.rs`), so the curves of different criteria
//! agree exactly where their sets coincide. [`compare`] reads as the
//! pipeline, top to bottom; [`plot`] draws the SVG charts.

mod cache;
mod curves;
mod drift_scores;
#[cfg(feature = "cli")]
pub mod plot;
mod report;
mod score;
pub mod sensitivity;

pub use report::{
    CandidateRow, CompareReport, CompareTimes, Cost, CriterionResult, CurvePoint, EvaluationCounts,
    LayerRow, RandomSummary, SearchSummary, SummaryRow, TrainingSummary,
};
pub use wdq_plan::criteria::{Criterion, UnknownCriterion, WeightStats};

use crate::data::Dataset;
use crate::quantize::{prepare, CandidateEvaluator, QuantizeError, QuantizeOptions, Reference};
use cache::EvaluationCache;
use curves::{criterion_result, measure_curves, CurveSettings, OrderToRun};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sensitivity::SensitivityError;
use std::time::Instant;
use wdq_ir::{weighted_layers, Model};
use wdq_plan::{mean_std, pareto_front, prefix_lengths, spread};
use wdq_train::{Quiet, TrainError, TrainObserver};

/// Every option of `compare`.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Training, measurement and lowering options, as for the main command
    /// (its selection, skip-smallest and time budget are not used: both
    /// halving and bisect run on every order).
    pub quantize: QuantizeOptions,
    /// The criteria, each once.
    pub criteria: Vec<Criterion>,
    /// Evaluate every `stride`-th m (and always m = N).
    pub stride: usize,
    /// Random orders averaged for the random criterion.
    pub random_orders: usize,
    /// Training batches the gradient criterion averages over.
    pub gradient_batches: usize,
}

/// Hooks for progress displays: fine-tuning (as [`TrainObserver`]) and the
/// candidate evaluations.
pub trait CompareObserver: TrainObserver {
    /// Called before `count` evaluations of `phase` run (in parallel); the
    /// returned function is called once as each one ends.
    fn on_evaluations(&mut self, _phase: &str, _count: usize) -> Box<dyn Fn() + Send + Sync> {
        Box::new(|| {})
    }
}

impl CompareObserver for Quiet {}

/// Why `compare` failed.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Quantize(#[from] QuantizeError),
    #[error("fine-tuning: {0}")]
    Train(#[from] TrainError),
    #[error("sensitivity criteria: {0}")]
    Sensitivity(#[from] SensitivityError),
    #[error("no criterion to compare")]
    NoCriteria,
    #[error("the model has no weighted layer to compare criteria on")]
    NoLayers,
    #[error("compare measures losses in points: use --metric top1, agreement or top5-agreement (not {0})")]
    Metric(&'static str),
}

/// Compares `options.criteria` on `model`: scores and orders the layers by
/// each, measures each order's loss curve on `val` (calibrating on
/// `train`), and runs halving and bisect on each order.
///
/// # Errors
/// [`CompareError`] for any failing stage.
pub fn compare(
    model: &Model,
    train: &Dataset,
    val: &Dataset,
    options: &CompareOptions,
    observer: &mut dyn CompareObserver,
) -> Result<CompareReport, CompareError> {
    let q = &options.quantize;
    if q.low_bits >= q.high_bits {
        return Err(QuantizeError::Bits {
            low: q.low_bits,
            high: q.high_bits,
        }
        .into());
    }
    if options.criteria.is_empty() {
        return Err(CompareError::NoCriteria);
    }
    let mut times = CompareTimes::default();

    // Calibrate once and measure the references.
    let clock = Instant::now();
    let base = prepare(model, q)?;
    let evaluator = CandidateEvaluator::prepare(&base, train, val, q)?;
    let n = evaluator.candidates.layers.len();
    if n == 0 {
        return Err(CompareError::NoLayers);
    }
    if !evaluator.score.metric.is_accuracy() {
        return Err(CompareError::Metric(evaluator.score.metric.name()));
    }
    let threshold = q
        .threshold
        .unwrap_or(evaluator.score.metric.default_threshold());
    let mut cache = EvaluationCache::new(&evaluator);
    let all_high_accuracy = cache.measure(Default::default())?.accuracy;
    let reference_accuracy = match q.reference {
        Reference::Fp32 => evaluator.fp32_accuracy,
        Reference::High => all_high_accuracy,
    };
    times.calibrate = clock.elapsed().as_secs_f64();

    // Score the layers by every criterion.
    let clock = Instant::now();
    let scoring = score::score_all(
        &evaluator,
        &mut cache,
        train,
        reference_accuracy,
        options,
        observer,
    )?;
    let mut orders: Vec<OrderToRun> = scoring
        .scored
        .into_iter()
        .map(|s| OrderToRun {
            name: s.criterion.name(),
            ascending: s.criterion.ascending(),
            order: s.criterion.order(&s.scores),
            scores: s.scores,
            cost: s.cost,
        })
        .collect();
    let first_random = orders.len();
    if options.criteria.contains(&Criterion::Random) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(q.train.seed);
        for r in 0..options.random_orders.max(1) {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            orders.push(OrderToRun {
                name: format!("random#{}", r + 1),
                ascending: true,
                scores: vec![f64::NAN; n],
                order,
                cost: Cost {
                    work: "none".to_string(),
                    ..Cost::default()
                },
            });
        }
    }
    times.criteria = clock.elapsed().as_secs_f64();

    // The curves: every distinct (order, m) set measured once, in parallel.
    let clock = Instant::now();
    let lengths = prefix_lengths(n, options.stride);
    measure_curves(&mut cache, &orders, &lengths, observer)?;
    times.curves = clock.elapsed().as_secs_f64();

    // Curves, areas and searches, answered from the cache.
    let clock = Instant::now();
    let labels: Vec<String> = evaluator
        .candidates
        .layers
        .iter()
        .map(|&l| evaluator.candidates.base.graph.node_label(l))
        .collect();
    let settings = CurveSettings {
        labels: &labels,
        lengths: &lengths,
        reference: reference_accuracy,
        threshold,
    };
    let mut results = Vec::with_capacity(orders.len());
    for run in orders {
        results.push(criterion_result(&mut cache, run, &settings)?);
    }
    times.searches = clock.elapsed().as_secs_f64();
    let runs = results.split_off(first_random);
    let random = (!runs.is_empty()).then(|| random_summary(q.train.seed, runs));

    let graph = &evaluator.candidates.base.graph;
    let layers = weighted_layers(graph)
        .iter()
        .filter(|l| evaluator.candidates.layers.contains(&l.node))
        .map(|l| LayerRow {
            node: graph.node_label(l.node),
            op: graph.node(l.node).op.op_type().to_string(),
            parameters: l.parameter_count(),
        })
        .collect();
    let summary = summary(&results, random.as_ref());
    let notes = notes(&results);
    Ok(CompareReport {
        metric: evaluator.score.metric.label().to_string(),
        reference: q.reference,
        threshold,
        low_bits: q.low_bits,
        high_bits: q.high_bits,
        fp32_accuracy: evaluator.fp32_accuracy,
        all_high_accuracy,
        reference_accuracy,
        layers,
        prefix_lengths: lengths,
        training: scoring.training,
        candidates: candidates(&cache, &labels, reference_accuracy),
        evaluations: EvaluationCounts {
            unique: cache.unique(),
            requests: cache.requests(),
        },
        criteria: results,
        random,
        summary,
        seconds: times,
        threads: rayon::current_num_threads(),
        notes,
    })
}

/// Criteria whose scores do not tell the layers apart.
fn notes(results: &[CriterionResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.scores.len() > 1 && r.scores.windows(2).all(|w| w[0] == w[1]))
        .map(|r| {
            format!(
                "{} gives every layer the score {}: its order is graph order{}",
                r.criterion,
                r.scores[0],
                if r.criterion.starts_with("drift") && r.scores[0] == 0.0 {
                    " (fine-tuning did not move the weights: with a learning rate of 0, or on unlabelled data, where the model distils from its own outputs and loss and gradient start at zero)"
                } else {
                    ""
                }
            )
        })
        .collect()
}

fn random_summary(seed: u64, runs: Vec<CriterionResult>) -> RandomSummary {
    let curves: Vec<Vec<f64>> = runs
        .iter()
        .map(|r| r.curve.iter().map(|p| p.loss).collect())
        .collect();
    let aucs: Vec<f64> = runs.iter().map(|r| r.auc).collect();
    let (auc_mean, auc_std) = mean_std(&aucs);
    RandomSummary {
        seed,
        spread: spread(&curves),
        auc_mean,
        auc_std,
        runs,
    }
}

fn summary(results: &[CriterionResult], random: Option<&RandomSummary>) -> Vec<SummaryRow> {
    let mut rows: Vec<SummaryRow> = results
        .iter()
        .map(|r| SummaryRow {
            criterion: r.criterion.clone(),
            auc: r.auc,
            auc_std: None,
            largest_within: r.largest_within.map(|m| m as f64),
            halving_layers: r.halving.low_bit_layers as f64,
            bisect_layers: r.bisect.low_bit_layers as f64,
            halving_evaluations: r.halving.evaluations as f64,
            bisect_evaluations: r.bisect.evaluations as f64,
            cost_evaluations: r.cost.evaluations,
            cost_seconds: r.cost.seconds,
            cost: r.cost.work.clone(),
        })
        .collect();
    if let Some(random) = random {
        let mean = |f: &dyn Fn(&CriterionResult) -> f64| {
            mean_std(&random.runs.iter().map(f).collect::<Vec<_>>()).0
        };
        rows.push(SummaryRow {
            criterion: format!("random (mean of {})", random.runs.len()),
            auc: random.auc_mean,
            auc_std: Some(random.auc_std),
            largest_within: Some(mean(&|r| r.largest_within.unwrap_or(0) as f64)),
            halving_layers: mean(&|r| r.halving.low_bit_layers as f64),
            bisect_layers: mean(&|r| r.bisect.low_bit_layers as f64),
            halving_evaluations: mean(&|r| r.halving.evaluations as f64),
            bisect_evaluations: mean(&|r| r.bisect.evaluations as f64),
            cost_evaluations: 0,
            cost_seconds: 0.0,
            cost: format!("none (seeded shuffles, seed {})", random.seed),
        });
    }
    rows
}

fn candidates(
    cache: &EvaluationCache<'_, '_>,
    labels: &[String],
    reference: f64,
) -> Vec<CandidateRow> {
    let entries: Vec<_> = cache.entries().collect();
    let points: Vec<(f64, f64)> = entries
        .iter()
        .map(|(_, m)| (m.weight_bytes as f64, m.accuracy))
        .collect();
    let front = pareto_front(&points);
    entries
        .into_iter()
        .zip(front)
        .map(|((set, m), pareto)| CandidateRow {
            layers: set.iter().map(|&i| labels[i].clone()).collect(),
            accuracy: m.accuracy,
            loss: reference - m.accuracy,
            weight_bytes: m.weight_bytes,
            seconds: m.seconds,
            pareto,
        })
        .collect()
}

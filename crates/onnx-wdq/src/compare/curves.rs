//! Loss curves and searches over a criterion's order: the accuracy loss
//! with the first m layers at low bits for every evaluated m, the area under
//! that curve, and what halving and bisect would choose, all answered from
//! the shared [`EvaluationCache`].

use super::cache::{prefix_set, EvaluationCache};
use super::report::{Cost, CriterionResult, CurvePoint, SearchSummary};
use super::CompareObserver;
use crate::quantize::QuantizeError;
use std::collections::BTreeSet;
use wdq_plan::{area_under_curve, largest_within, search, SearchOptions, SearchOutcome, Selection};

/// A layer order to turn into a curve.
pub(super) struct OrderToRun {
    pub name: String,
    pub ascending: bool,
    pub scores: Vec<f64>,
    pub order: Vec<usize>,
    pub cost: Cost,
}

/// What the curves are measured against.
pub(super) struct CurveSettings<'l> {
    pub labels: &'l [String],
    pub lengths: &'l [usize],
    pub reference: f64,
    pub threshold: f64,
}

/// Measures every (order, m) set not measured yet, in parallel.
///
/// # Errors
/// The first failing measurement.
pub(super) fn measure_curves(
    cache: &mut EvaluationCache<'_, '_>,
    orders: &[OrderToRun],
    lengths: &[usize],
    observer: &mut dyn CompareObserver,
) -> Result<(), QuantizeError> {
    let sets: Vec<BTreeSet<usize>> = orders
        .iter()
        .flat_map(|o| lengths.iter().map(|&m| prefix_set(&o.order, m)))
        .collect();
    cache.ensure(&sets, "loss curves", observer)?;
    Ok(())
}

/// The curve, area, largest m within the threshold and both searches for
/// one order.
///
/// # Errors
/// A failing measurement (only when a search asks for an m that the curve
/// did not evaluate, with `--stride` above 1).
pub(super) fn criterion_result(
    cache: &mut EvaluationCache<'_, '_>,
    run: OrderToRun,
    settings: &CurveSettings<'_>,
) -> Result<CriterionResult, QuantizeError> {
    let mut curve = Vec::with_capacity(settings.lengths.len());
    for &m in settings.lengths {
        let set = prefix_set(&run.order, m);
        // Already measured (and counted) by `measure_curves`.
        let measured = match cache.get(&set) {
            Some(known) => known,
            None => cache.measure(set)?,
        };
        curve.push(CurvePoint {
            m,
            layers: run.order[..m]
                .iter()
                .map(|&i| settings.labels[i].clone())
                .collect(),
            accuracy: measured.accuracy,
            loss: settings.reference - measured.accuracy,
            weight_bytes: measured.weight_bytes,
        });
    }
    let points: Vec<(usize, f64)> = curve.iter().map(|p| (p.m, p.loss)).collect();
    let halving = run_search(
        cache,
        &run,
        settings,
        Selection::Halving {
            min_candidates: None,
        },
    )?;
    let bisect = run_search(cache, &run, settings, Selection::Bisect)?;
    Ok(CriterionResult {
        criterion: run.name,
        ascending: run.ascending,
        scores: run.scores,
        order: run
            .order
            .iter()
            .map(|&i| settings.labels[i].clone())
            .collect(),
        cost: run.cost,
        auc: area_under_curve(&points, run.order.len()),
        largest_within: largest_within(&points, settings.threshold),
        curve,
        halving,
        bisect,
    })
}

fn run_search(
    cache: &mut EvaluationCache<'_, '_>,
    run: &OrderToRun,
    settings: &CurveSettings<'_>,
    selection: Selection,
) -> Result<SearchSummary, QuantizeError> {
    let options = SearchOptions {
        selection,
        threshold: settings.threshold,
        goal: wdq_plan::Goal::Loss,
        guard: false,
        skip_smallest: false,
        time_budget: None,
    };
    let scores = vec![0.0; settings.labels.len()];
    let mut evaluate = |low: &[usize]| {
        cache
            .measure(low.iter().copied().collect())
            .map(|x| x.accuracy)
    };
    let outcome: SearchOutcome = search(
        &run.order,
        &scores,
        settings.reference,
        &options,
        &mut evaluate,
    )?;
    Ok(SearchSummary {
        low_bit_layers: outcome.low_bit.len(),
        met_threshold: outcome.met_threshold,
        evaluations: outcome.candidates.len(),
        tried: outcome
            .candidates
            .iter()
            .map(|c| c.low_bit_layers)
            .collect(),
        non_monotonic: outcome.non_monotonic.is_some(),
    })
}

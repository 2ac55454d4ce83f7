//! Evaluating candidate layer sets once each: a set of layers at low bits
//! is measured with [`CandidateEvaluator::measure`] the first time any
//! criterion asks for it and answered from the cache afterwards, so
//! identical sets agree exactly across criteria. Missing sets are measured
//! in parallel (rayon); every measurement is independent, so the results do
//! not depend on the thread count.

use super::CompareObserver;
use crate::quantize::{CandidateEvaluator, QuantizeError};
use rayon::prelude::{IntoParallelRefIterator, ParallelIterator};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A measured candidate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    /// The metric, in percent.
    pub accuracy: f64,
    /// Bytes of the lowered model's constant tensors.
    pub weight_bytes: usize,
    /// Wall time of this evaluation (lowering and running).
    pub seconds: f64,
}

/// Measured candidates, keyed by the set of low-bit layer indices.
pub struct EvaluationCache<'e, 'a> {
    evaluator: &'e CandidateEvaluator<'a>,
    results: BTreeMap<BTreeSet<usize>, Measured>,
    requests: usize,
}

impl<'e, 'a> EvaluationCache<'e, 'a> {
    /// An empty cache over `evaluator`'s layers.
    pub fn new(evaluator: &'e CandidateEvaluator<'a>) -> Self {
        EvaluationCache {
            evaluator,
            results: BTreeMap::new(),
            requests: 0,
        }
    }

    /// The measurement of every set in `sets` (layer indices into the
    /// evaluator's layers), measuring those not seen before in parallel;
    /// `observer` hears of them under `phase`. Returns how many were newly
    /// measured.
    ///
    /// # Errors
    /// The first [`QuantizeError`] of a measurement, in set order.
    pub fn ensure(
        &mut self,
        sets: &[BTreeSet<usize>],
        phase: &str,
        observer: &mut dyn CompareObserver,
    ) -> Result<usize, QuantizeError> {
        self.requests += sets.len();
        let missing: Vec<BTreeSet<usize>> = sets
            .iter()
            .filter(|s| !self.results.contains_key(*s))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let evaluator = self.evaluator;
        let done = observer.on_evaluations(phase, missing.len());
        let measured: Vec<Result<Measured, QuantizeError>> = missing
            .par_iter()
            .map(|set| {
                let result = measure_one(evaluator, set);
                done();
                result
            })
            .collect();
        let count = missing.len();
        for (set, result) in missing.into_iter().zip(measured) {
            self.results.insert(set, result?);
        }
        Ok(count)
    }

    /// The measurement of `set`, if it was measured.
    pub fn get(&self, set: &BTreeSet<usize>) -> Option<Measured> {
        self.results.get(set).copied()
    }

    /// The measurement of `set`, measuring it now if needed.
    ///
    /// # Errors
    /// As [`EvaluationCache::ensure`].
    pub fn measure(&mut self, set: BTreeSet<usize>) -> Result<Measured, QuantizeError> {
        self.requests += 1;
        if let Some(known) = self.results.get(&set) {
            return Ok(*known);
        }
        let measured = measure_one(self.evaluator, &set)?;
        self.results.insert(set, measured);
        Ok(measured)
    }

    /// Every measured set, in set order.
    pub fn entries(&self) -> impl Iterator<Item = (&BTreeSet<usize>, &Measured)> {
        self.results.iter()
    }

    /// Distinct sets measured.
    pub fn unique(&self) -> usize {
        self.results.len()
    }

    /// Sets asked for, including those answered from the cache.
    pub fn requests(&self) -> usize {
        self.requests
    }
}

/// The set of the first `m` layers of `order`.
pub fn prefix_set(order: &[usize], m: usize) -> BTreeSet<usize> {
    order[..m.min(order.len())].iter().copied().collect()
}

fn measure_one(
    evaluator: &CandidateEvaluator<'_>,
    set: &BTreeSet<usize>,
) -> Result<Measured, QuantizeError> {
    let started = Instant::now();
    let nodes: Vec<_> = set
        .iter()
        .map(|&i| evaluator.candidates.layers[i])
        .collect();
    let (lowered, accuracy) = evaluator.measure(&nodes)?;
    Ok(Measured {
        accuracy,
        weight_bytes: lowered.weight_bytes_after,
        seconds: started.elapsed().as_secs_f64(),
    })
}

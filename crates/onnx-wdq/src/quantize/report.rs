//! The main command's report: written as JSON with `--report`, summarised
//! for people on stdout.

use super::{EvalWork, QuantizeOptions, Reference, Searched};
use crate::analyze::Drift;
use crate::inspect::table;
use serde::Serialize;
use wdq_ir::Model;
use wdq_lower::Lowered;
use wdq_plan::stats::Interval;
use wdq_plan::Selection;

/// Seconds spent in each stage.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct StageTimes {
    pub analyze: f64,
    pub calibrate: f64,
    pub search: f64,
    pub lower: f64,
    pub export: f64,
}

/// One weighted layer's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    pub rank: usize,
    pub node: String,
    /// The other layer nodes reading the same (tied) weight: they get the
    /// same bits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tied: Vec<String>,
    pub op: String,
    pub parameters: usize,
    pub statistic: f64,
    pub per_cycle: Vec<f64>,
    /// Bit width in the written model (None: left float, see `skipped`).
    pub bits: Option<u8>,
    pub scale_min: Option<f32>,
    pub scale_max: Option<f32>,
    /// Qm.n fraction lengths (min, max) with power-of-two scales.
    pub fraction_lengths: Option<(i32, i32)>,
    pub granularity: Option<String>,
}

/// One evaluated candidate of the search.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateReport {
    pub low_bit_layers: usize,
    pub layers: Vec<String>,
    /// The score in the metric's unit.
    pub accuracy: f64,
    /// Against the reference, for loss thresholds.
    pub loss: Option<f64>,
    /// 95% interval of the score (accuracy metrics: from the paired
    /// interval of the loss).
    pub interval: Option<Interval>,
    pub within_threshold: bool,
    /// Set when the evaluation stopped once its answer was certain: the
    /// samples it ran (`accuracy`, `loss` and `interval` cover those only).
    pub stopped_after: Option<usize>,
    pub seconds: f64,
}

/// The validation work of the search's candidate evaluations.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SearchWork {
    /// Whether an evaluation could stop once its answer was certain
    /// (`--full-eval`: no).
    pub early_stop: bool,
    pub evaluations: usize,
    /// Samples run, the chosen candidate's completion included.
    pub samples: usize,
    /// Samples a full run of every evaluation takes.
    pub full_samples: usize,
    /// Seconds spent running validation batches.
    pub seconds: f64,
    /// An estimate: the samples not run at the measured seconds per sample.
    pub seconds_saved: f64,
}

impl SearchWork {
    pub(crate) fn new(work: EvalWork, options: &QuantizeOptions) -> SearchWork {
        SearchWork {
            early_stop: options.early_stop,
            evaluations: work.evaluations,
            samples: work.samples,
            full_samples: work.full_samples,
            seconds: work.seconds,
            seconds_saved: work.seconds_saved(),
        }
    }
}

/// Model sizes, in bytes.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Sizes {
    pub weights_before: usize,
    pub weights_after: usize,
    /// Encoded model files (set once the output is written).
    pub file_before: usize,
    pub file_after: usize,
}

/// Everything the main command decided and measured.
#[derive(Clone, Debug, Serialize)]
pub struct QuantizeReport {
    /// What scores the candidates (a metric's name, or a caller's
    /// evaluator).
    pub metric: String,
    /// The unit of every score and of the threshold.
    pub unit: String,
    pub reference: Reference,
    pub threshold: f64,
    /// What the threshold bounds (e.g. "loss at most 1 points").
    pub threshold_meaning: String,
    /// Whether candidates were judged by their 95% bound (`--guard`).
    pub guard: bool,
    /// What one validation sample changes, in the metric's unit (built-in
    /// metrics): 100/N points for accuracy metrics, the largest
    /// leave-one-out change of the all-high model's figure for the others.
    pub resolution: Option<f64>,
    /// 95% interval of the written model's score.
    pub final_interval: Option<Interval>,
    /// Seconds spent in a caller's evaluator (`--eval-command`).
    pub evaluator_seconds: Option<f64>,
    pub selection: Selection,
    pub statistic: String,
    pub low_bits: u8,
    pub high_bits: u8,
    pub fp32_accuracy: f64,
    pub all_high_accuracy: f64,
    pub reference_accuracy: f64,
    /// The written model's score as measured (wdq-exec, or the evaluator).
    pub final_accuracy: f64,
    /// Against the reference, for loss thresholds.
    pub final_loss: Option<f64>,
    pub met_threshold: bool,
    pub low_bit_layers: usize,
    pub high_bit_layers: usize,
    pub layers: Vec<LayerReport>,
    pub skipped: Vec<(String, String)>,
    /// The deployment target (`--target`).
    pub target: String,
    /// Not candidates, as (node, reason): units the target refuses at the
    /// low bits (kept at the high bits) or keeps float, and weighted nodes
    /// inside subgraphs (`host/branch/node`, float).
    pub not_candidates: Vec<(String, String)>,
    pub candidates: Vec<CandidateReport>,
    /// The candidates' validation work (built-in evaluator).
    pub search_work: Option<SearchWork>,
    pub non_monotonic: Option<String>,
    pub stopped_by_time_budget: bool,
    pub loss_per_cycle: Vec<f64>,
    pub sizes: Sizes,
    pub seconds: StageTimes,
    pub warnings: Vec<String>,
}

/// The report of one run, labelled from `base` (the model the stages ran
/// on): rows join the stages' side tables by node id.
pub(crate) fn build(
    base: &Model,
    drift: &Drift,
    searched: &Searched,
    lowered: &Lowered,
    options: &QuantizeOptions,
    times: StageTimes,
) -> QuantizeReport {
    let graph = &base.graph;
    let layers: Vec<LayerReport> = drift
        .ranked(graph)
        .into_iter()
        .map(|ranked| {
            let lowered = lowered.layers.iter().find(|l| l.id == ranked.id);
            LayerReport {
                rank: ranked.rank,
                node: ranked.node,
                tied: ranked.tied,
                op: ranked.op,
                parameters: ranked.parameters,
                statistic: ranked.statistic,
                per_cycle: ranked.per_cycle,
                bits: lowered.map(|l| l.bits),
                scale_min: lowered.map(|l| l.scales_min),
                scale_max: lowered.map(|l| l.scales_max),
                fraction_lengths: lowered.and_then(|l| l.fraction_lengths),
                granularity: lowered.map(|l| l.granularity.clone()),
            }
        })
        .collect();
    let outcome = &searched.outcome;
    let candidates = outcome
        .candidates
        .iter()
        .map(|c| CandidateReport {
            low_bit_layers: c.low_bit_layers,
            layers: outcome.eligible[..c.low_bit_layers]
                .iter()
                .map(|&k| graph.node_label(drift.order[k]))
                .collect(),
            accuracy: c.accuracy,
            loss: c.loss,
            interval: c.interval,
            within_threshold: c.within_threshold,
            stopped_after: c.stopped_after,
            seconds: c.seconds,
        })
        .collect();
    let count = |bits: u8| layers.iter().filter(|l| l.bits == Some(bits)).count();
    let scoring = &searched.scoring;
    let mut warnings = drift.warnings.clone();
    warnings.extend(scoring.warnings.iter().cloned());
    QuantizeReport {
        metric: scoring.metric.clone(),
        unit: scoring.unit.clone(),
        reference: options.reference,
        threshold: scoring.threshold,
        threshold_meaning: scoring.threshold_meaning.clone(),
        guard: options.guard,
        resolution: scoring.resolution,
        final_interval: searched.final_interval,
        evaluator_seconds: scoring.evaluator_seconds,
        selection: options.selection,
        statistic: options.statistic.name().to_string(),
        low_bits: options.low_bits,
        high_bits: options.high_bits,
        fp32_accuracy: searched.fp32_accuracy,
        all_high_accuracy: searched.all_high_accuracy,
        reference_accuracy: searched.reference_accuracy,
        final_accuracy: searched.final_accuracy,
        final_loss: scoring
            .goal
            .loss(searched.reference_accuracy, searched.final_accuracy),
        met_threshold: searched.met_threshold,
        low_bit_layers: count(options.low_bits),
        high_bit_layers: count(options.high_bits),
        layers,
        skipped: lowered
            .skipped
            .iter()
            .map(|s| (s.node.clone(), s.reason.clone()))
            .collect(),
        target: options.target.profile().name.to_string(),
        not_candidates: searched
            .refused
            .iter()
            .map(|(id, why)| (graph.node_label(*id), why.clone()))
            .chain(branch_not_candidates(base))
            .collect(),
        candidates,
        search_work: searched.work,
        non_monotonic: outcome.non_monotonic.clone(),
        stopped_by_time_budget: outcome.stopped_by_time_budget,
        loss_per_cycle: drift.train.loss_per_cycle.clone(),
        sizes: Sizes {
            weights_before: lowered.weight_bytes_before,
            weights_after: lowered.weight_bytes_after,
            file_before: 0,
            file_after: 0,
        },
        seconds: times,
        warnings,
    }
}

/// The weighted nodes inside subgraphs of `base`, as `(host/branch/node,
/// reason)`: never candidates ([`wdq_onnx::Subgraph::reason`]).
fn branch_not_candidates(base: &Model) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in wdq_onnx::weighted_subgraphs(base) {
        let host = base.graph.node_label(sub.host);
        for unit in wdq_ir::layer_units(&sub.graph) {
            let node = sub.graph.node_label(unit.node());
            out.push((format!("{host}/{}/{node}", sub.branch), sub.reason()));
        }
    }
    out
}

impl QuantizeReport {
    /// The human summary.
    pub fn render(&self) -> String {
        let f = |x: f64| self.number(x);
        let interval = |i: &Option<Interval>| {
            i.map_or(String::new(), |i| {
                format!(" [95%: {}, {}]", f(i.low), f(i.high))
            })
        };
        let mut s = format!(
            "{} on validation ({}): original model {}, all {}-bit {}, written model {}{}{} vs {}; threshold: {}{}\n",
            self.metric,
            self.unit,
            f(self.fp32_accuracy),
            self.high_bits,
            f(self.all_high_accuracy),
            f(self.final_accuracy),
            interval(&self.final_interval),
            self.final_loss
                .map_or(String::new(), |l| format!(" (loss {})", f(l))),
            match self.reference {
                Reference::Fp32 => "the original model",
                Reference::High => "all high bits",
            },
            self.threshold_meaning,
            if self.guard {
                ", judged by the 95% bound (--guard)"
            } else {
                ""
            }
        );
        if let Some(r) = self.resolution {
            s += &format!(
                "resolution: one validation sample moves the all-high model's figure by up to {}\n",
                f(r)
            );
        }
        if let Some(t) = self.evaluator_seconds {
            s += &format!("evaluator: {t:.2} s in all\n");
        }
        s += &format!(
            "layers: {} at {} bits, {} at {} bits, {} left float\n",
            self.low_bit_layers,
            self.low_bits,
            self.high_bit_layers,
            self.high_bits,
            self.skipped.len()
        );
        s += &format!(
            "weights: {} -> {} bytes; file: {} -> {} bytes\n",
            self.sizes.weights_before,
            self.sizes.weights_after,
            self.sizes.file_before,
            self.sizes.file_after
        );
        let rows: Vec<[String; 8]> = self
            .candidates
            .iter()
            .map(|c| {
                [
                    c.low_bit_layers.to_string(),
                    f(c.accuracy),
                    interval(&c.interval).trim().to_string(),
                    c.loss.map_or("-".to_string(), f),
                    if c.within_threshold { "yes" } else { "no" }.to_string(),
                    c.stopped_after.map_or("all".to_string(), |k| k.to_string()),
                    format!("{:.2}", c.seconds),
                    c.layers.join(" "),
                ]
            })
            .collect();
        s += "candidates evaluated (a candidate stopped early shows its score over the samples it ran):\n";
        s += &table(
            &[
                "low-bit", "score", "interval", "loss", "within", "samples", "seconds", "layers",
            ],
            &rows,
        );
        if let Some(w) = &self.search_work {
            s += &format!(
                "search: {} evaluations ran {} of {} validation samples ({:.0}%), {:.2} s; {}\n",
                w.evaluations,
                w.samples,
                w.full_samples,
                100.0 * w.samples as f64 / w.full_samples.max(1) as f64,
                w.seconds,
                if w.early_stop {
                    format!("stopping once decided saved about {:.2} s", w.seconds_saved)
                } else {
                    "every evaluation ran in full (--full-eval)".to_string()
                }
            );
        }
        if let Some(note) = &self.non_monotonic {
            s += &format!("note: {note}\n");
        }
        if self.stopped_by_time_budget {
            s += "note: the time budget ran out; the best candidate found so far was kept\n";
        }
        for (node, reason) in &self.skipped {
            s += &format!("left float: {node}: {reason}\n");
        }
        for (node, reason) in &self.not_candidates {
            s += &format!("not a candidate: {node}: {reason}\n");
        }
        for w in &self.warnings {
            s += &format!("warning: {w}\n");
        }
        match (self.met_threshold, self.selection) {
            (true, _) => {}
            (false, Selection::Count { .. } | Selection::Threshold { .. }) => {
                s += "the selection asked for misses the threshold (written as asked)\n"
            }
            (false, _) => s += "no candidate met the threshold: the written model has every layer at the high bit width\n",
        }
        s
    }

    /// A score or loss in the report's unit, rounded for people.
    fn number(&self, x: f64) -> String {
        if self.unit == "ratio" {
            format!("{x:.4}")
        } else {
            format!("{x:.2}")
        }
    }
}

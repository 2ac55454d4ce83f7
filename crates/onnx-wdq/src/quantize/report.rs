//! The main command's report: written as JSON with `--report`, summarised
//! for people on stdout.

use super::{QuantizeOptions, Reference};
use crate::analyze::AnalyzeReport;
use crate::inspect::table;
use serde::Serialize;
use wdq_ir::{Model, NodeId};
use wdq_lower::Lowered;
use wdq_plan::{SearchOutcome, Selection};

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
    pub accuracy: f64,
    pub loss: f64,
    pub within_threshold: bool,
    pub seconds: f64,
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
    pub metric: String,
    pub reference: Reference,
    pub threshold: f64,
    pub selection: Selection,
    pub statistic: String,
    pub low_bits: u8,
    pub high_bits: u8,
    pub fp32_accuracy: f64,
    pub all_high_accuracy: f64,
    pub reference_accuracy: f64,
    /// The written model's accuracy as wdq-exec measured it.
    pub final_accuracy: f64,
    pub final_loss: f64,
    pub met_threshold: bool,
    pub low_bit_layers: usize,
    pub high_bit_layers: usize,
    pub layers: Vec<LayerReport>,
    pub skipped: Vec<(String, String)>,
    pub candidates: Vec<CandidateReport>,
    pub non_monotonic: Option<String>,
    pub stopped_by_time_budget: bool,
    pub loss_per_cycle: Vec<f64>,
    pub sizes: Sizes,
    pub seconds: StageTimes,
    pub warnings: Vec<String>,
}

pub(super) struct Inputs<'a> {
    pub base: &'a Model,
    pub analysis: &'a AnalyzeReport,
    pub layer_nodes: &'a [NodeId],
    pub lowered: &'a Lowered,
    pub outcome: &'a SearchOutcome,
    pub options: &'a QuantizeOptions,
    pub fp32_accuracy: f64,
    pub all_high_accuracy: f64,
    pub reference_accuracy: f64,
    pub final_accuracy: f64,
    pub met_threshold: bool,
    pub times: StageTimes,
}

pub(super) fn build(i: Inputs<'_>) -> QuantizeReport {
    let layers: Vec<LayerReport> = i
        .analysis
        .layers
        .iter()
        .map(|ranked| {
            let lowered = i.lowered.layers.iter().find(|l| l.node == ranked.node);
            LayerReport {
                rank: ranked.rank,
                node: ranked.node.clone(),
                op: ranked.op.clone(),
                parameters: ranked.parameters,
                statistic: ranked.statistic,
                per_cycle: ranked.per_cycle.clone(),
                bits: lowered.map(|l| l.bits),
                scale_min: lowered.map(|l| l.scales_min),
                scale_max: lowered.map(|l| l.scales_max),
                fraction_lengths: lowered.and_then(|l| l.fraction_lengths),
                granularity: lowered.map(|l| l.granularity.clone()),
            }
        })
        .collect();
    let names: Vec<String> = i
        .layer_nodes
        .iter()
        .map(|n| i.base.graph.node_label(*n))
        .collect();
    let candidates = i
        .outcome
        .candidates
        .iter()
        .map(|c| CandidateReport {
            low_bit_layers: c.low_bit_layers,
            layers: i.outcome.eligible[..c.low_bit_layers]
                .iter()
                .map(|&k| names[k].clone())
                .collect(),
            accuracy: c.accuracy,
            loss: c.loss,
            within_threshold: c.within_threshold,
            seconds: c.seconds,
        })
        .collect();
    let low = layers
        .iter()
        .filter(|l| l.bits == Some(i.options.low_bits))
        .count();
    let high = layers
        .iter()
        .filter(|l| l.bits == Some(i.options.high_bits))
        .count();
    QuantizeReport {
        metric: i.options.metric.name().to_string(),
        reference: i.options.reference,
        threshold: i.options.threshold,
        selection: i.options.selection,
        statistic: i.options.statistic.name().to_string(),
        low_bits: i.options.low_bits,
        high_bits: i.options.high_bits,
        fp32_accuracy: i.fp32_accuracy,
        all_high_accuracy: i.all_high_accuracy,
        reference_accuracy: i.reference_accuracy,
        final_accuracy: i.final_accuracy,
        final_loss: i.reference_accuracy - i.final_accuracy,
        met_threshold: i.met_threshold,
        low_bit_layers: low,
        high_bit_layers: high,
        layers,
        skipped: i
            .lowered
            .skipped
            .iter()
            .map(|s| (s.node.clone(), s.reason.clone()))
            .collect(),
        candidates,
        non_monotonic: i.outcome.non_monotonic.clone(),
        stopped_by_time_budget: i.outcome.stopped_by_time_budget,
        loss_per_cycle: i.analysis.loss_per_cycle.clone(),
        sizes: Sizes {
            weights_before: i.lowered.weight_bytes_before,
            weights_after: i.lowered.weight_bytes_after,
            file_before: 0,
            file_after: 0,
        },
        seconds: i.times,
        warnings: i.analysis.warnings.clone(),
    }
}

impl QuantizeReport {
    /// The human summary.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} on validation: original model {:.2}%, all {}-bit {:.2}%, written model {:.2}% (loss {:.2} points vs {}; threshold {:.2})\n",
            self.metric,
            self.fp32_accuracy,
            self.high_bits,
            self.all_high_accuracy,
            self.final_accuracy,
            self.final_loss,
            match self.reference {
                Reference::Fp32 => "the original model",
                Reference::High => "all high bits",
            },
            self.threshold
        );
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
        let rows: Vec<[String; 6]> = self
            .candidates
            .iter()
            .map(|c| {
                [
                    c.low_bit_layers.to_string(),
                    format!("{:.2}", c.accuracy),
                    format!("{:.2}", c.loss),
                    if c.within_threshold { "yes" } else { "no" }.to_string(),
                    format!("{:.2}", c.seconds),
                    c.layers.join(" "),
                ]
            })
            .collect();
        s += "candidates evaluated:\n";
        s += &table(
            &["low-bit", "accuracy", "loss", "within", "seconds", "layers"],
            &rows,
        );
        if let Some(note) = &self.non_monotonic {
            s += &format!("note: {note}\n");
        }
        if self.stopped_by_time_budget {
            s += "note: the time budget ran out; the best candidate found so far was kept\n";
        }
        for (node, reason) in &self.skipped {
            s += &format!("left float: {node}: {reason}\n");
        }
        for w in &self.warnings {
            s += &format!("warning: {w}\n");
        }
        if !self.met_threshold {
            s += "no candidate met the threshold: the written model has every layer at the high bit width\n";
        }
        s
    }
}

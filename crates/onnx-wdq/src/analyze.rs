//! `analyze`: fine-tune for K cycles and rank the weighted layers by weight
//! drift (steps 1 to 4 of the method).

use crate::data::Dataset;
use crate::inspect::table;
use serde::Serialize;
use wdq_ir::Model;
use wdq_train::{
    fine_tune, over_cycles, LabelFree, Statistic, TrainData, TrainError, TrainObserver,
    TrainOptions,
};

/// One layer in drift order.
#[derive(Clone, Debug, Serialize)]
pub struct RankedLayer {
    /// 1 = smallest statistic: the best candidate for fewer bits.
    pub rank: usize,
    pub node: String,
    pub op: String,
    pub weight: String,
    pub parameters: usize,
    /// S: the statistic averaged over cycles.
    pub statistic: f64,
    /// The statistic after each cycle.
    pub per_cycle: Vec<f64>,
}

/// The report of `analyze` (`--json`).
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzeReport {
    pub statistic: Statistic,
    pub cycles: usize,
    pub steps_per_cycle: usize,
    pub learning_rate: f32,
    pub batch_size: usize,
    pub seed: u64,
    pub include_bias: bool,
    pub loss: String,
    pub loss_per_cycle: Vec<f64>,
    pub layers: Vec<RankedLayer>,
    pub seconds: f64,
    /// Caveats about how far the statistics can be trusted.
    pub warnings: Vec<String>,
}

/// Fine-tunes `model` on `data` and ranks its weighted layers by
/// `statistic`, ascending (ties keep graph order).
///
/// # Errors
/// [`TrainError`] from fine-tuning (including divergence).
pub fn analyze(
    model: &Model,
    data: &Dataset,
    options: &TrainOptions,
    statistic: Statistic,
    observer: &mut dyn TrainObserver,
) -> Result<AnalyzeReport, TrainError> {
    let train = TrainData {
        inputs: &data.inputs,
        labels: data.labels.as_deref(),
        len: data.len,
    };
    let report = fine_tune(model, train, options, observer)?;
    let mut layers: Vec<RankedLayer> = report
        .layers
        .iter()
        .map(|l| RankedLayer {
            rank: 0,
            node: l.node.clone(),
            op: l.op.clone(),
            weight: l.weight.clone(),
            parameters: l.parameters,
            statistic: over_cycles(&l.cycles, statistic),
            per_cycle: l.cycles.iter().map(|c| c.get(statistic)).collect(),
        })
        .collect();
    layers.sort_by(|a, b| a.statistic.total_cmp(&b.statistic));
    for (i, l) in layers.iter_mut().enumerate() {
        l.rank = i + 1;
    }
    let mut warnings = Vec::new();
    if data.labels.is_none() && options.label_free == LabelFree::Distill {
        warnings.push(
            "no labels and --label-free distill: the model was fine-tuned towards its own outputs, where \
             its gradients start at zero, so the drift mostly reflects rounding and the order is weakly \
             informative; the default (auto) loss gives the labelled order"
                .to_string(),
        );
    }
    Ok(AnalyzeReport {
        statistic,
        cycles: options.cycles,
        steps_per_cycle: report.steps_per_cycle,
        learning_rate: options.learning_rate,
        batch_size: options.batch_size,
        seed: options.seed,
        include_bias: options.include_bias,
        loss: report.loss,
        loss_per_cycle: report.loss_per_cycle,
        layers,
        seconds: report.seconds,
        warnings,
    })
}

impl AnalyzeReport {
    /// The human-readable table.
    pub fn render(&self) -> String {
        let mut s = format!(
            "fine-tuned {} cycles x {} steps (lr {}, batch {}, seed {}, loss: {}) in {:.2} s\n",
            self.cycles,
            self.steps_per_cycle,
            self.learning_rate,
            self.batch_size,
            self.seed,
            self.loss,
            self.seconds
        );
        let losses: Vec<String> = self
            .loss_per_cycle
            .iter()
            .map(|l| format!("{l:.5}"))
            .collect();
        s += &format!("loss per cycle: {}\n", losses.join(", "));
        s += &format!(
            "layers by {} of the weight drift (rank 1 = drifted least):\n",
            self.statistic.name()
        );
        let rows: Vec<[String; 6]> = self
            .layers
            .iter()
            .map(|l| {
                let cycles: Vec<String> = l.per_cycle.iter().map(|v| format!("{v:.3e}")).collect();
                [
                    l.rank.to_string(),
                    l.node.clone(),
                    l.op.clone(),
                    l.parameters.to_string(),
                    format!("{:.4e}", l.statistic),
                    cycles.join(" "),
                ]
            })
            .collect();
        s += &table(&["rank", "node", "op", "params", "S", "per cycle"], &rows);
        for w in &self.warnings {
            s += &format!("warning: {w}\n");
        }
        s
    }
}

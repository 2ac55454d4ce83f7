//! `analyze`: fine-tune for K cycles and rank the weighted layers by weight
//! drift (steps 1 to 4 of the method).

use crate::data::Dataset;
use crate::inspect::table;
use serde::Serialize;
use wdq_ir::{layer_units, Graph, LayerMap, LayerUnit, Model, NodeId};
use wdq_train::{
    fine_tune, over_cycles, LabelFree, Statistic, TrainError, TrainObserver, TrainOptions,
    TrainReport,
};

/// One quantization unit in drift order (a report row).
#[derive(Clone, Debug, Serialize)]
pub struct RankedLayer {
    /// 1 = smallest statistic: the best candidate for fewer bits.
    pub rank: usize,
    /// The unit's key: its first layer node.
    #[serde(skip)]
    pub id: NodeId,
    pub node: String,
    /// The other layer nodes reading the same (tied) weight.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tied: Vec<String>,
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

/// The analysis stage's result: the drift side table of one fine-tuning
/// run, keyed by the units' [`NodeId`]s in the model that was fine-tuned,
/// and the drift order.
#[derive(Clone, Debug)]
pub struct Drift {
    pub train: TrainReport,
    pub statistic: Statistic,
    /// S of every tracked unit.
    pub scores: LayerMap<f64>,
    /// The tracked units, ascending by S (ties keep graph order).
    pub order: Vec<NodeId>,
    pub warnings: Vec<String>,
}

/// Fine-tunes `model` on `data` and orders its quantization units by
/// `statistic`, ascending (ties keep graph order).
///
/// # Errors
/// [`TrainError`] from fine-tuning (including divergence).
pub fn drift(
    model: &Model,
    data: &Dataset,
    options: &TrainOptions,
    statistic: Statistic,
    observer: &mut dyn TrainObserver,
) -> Result<Drift, TrainError> {
    let train = fine_tune(model, data, options, observer)?;
    let units: Vec<NodeId> = layer_units(&model.graph)
        .iter()
        .map(LayerUnit::node)
        .filter(|&n| train.layers.contains(n))
        .collect();
    let scores: LayerMap<f64> = train
        .layers
        .iter()
        .map(|(&n, l)| (n, over_cycles(&l.cycles, statistic)))
        .collect();
    let mut order = units;
    order.sort_by(|a, b| scores.0[a].total_cmp(&scores.0[b]));
    let mut warnings = Vec::new();
    warnings.extend(zero_statistic_warning(&model.graph, &order, &scores));
    if data.labels.is_none() && options.label_free == LabelFree::Distill {
        warnings.push(
            "no labels and --label-free distill: the model was fine-tuned towards its own outputs, where \
             its gradients start at zero, so the drift mostly reflects rounding and the order is weakly \
             informative; the default (auto) loss gives the labelled order"
                .to_string(),
        );
    }
    Ok(Drift {
        train,
        statistic,
        scores,
        order,
        warnings,
    })
}

/// Why some units have a statistic of exactly 0, if any do: their weights
/// did not change at all in f32, every SGD update rounded away.
fn zero_statistic_warning(
    graph: &Graph,
    order: &[NodeId],
    scores: &LayerMap<f64>,
) -> Option<String> {
    let zero: Vec<NodeId> = order
        .iter()
        .copied()
        .filter(|n| scores.0[n] == 0.0)
        .collect();
    let first = zero.first()?;
    Some(format!(
        "{} of {} layers have a zero statistic (first: `{}`): their weights did not change in f32 \
         during fine-tuning, every update was smaller than half a unit in the last place of the \
         weight and rounded away. Their gradients are tiny next to their weights, typically \
         because activations vanish through depth (outputs of ~1e-10: an untrained or badly \
         initialised model, or data unlike what it was trained on); their order among \
         themselves is graph order and says nothing. Check the model's outputs on this data \
         (`onnx-wdq eval`), raise --lr, or give labels or data the model was trained for",
        zero.len(),
        order.len(),
        graph.node_label(*first)
    ))
}

impl Drift {
    /// The rank (1 = smallest S) of `node`, if tracked.
    pub fn rank(&self, node: NodeId) -> Option<usize> {
        self.order.iter().position(|&n| n == node).map(|i| i + 1)
    }

    /// The rows of the units in drift order, labelled from `graph`.
    pub fn ranked(&self, graph: &Graph) -> Vec<RankedLayer> {
        self.order
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let l = &self.train.layers.0[&id];
                RankedLayer {
                    rank: i + 1,
                    id,
                    node: graph.node_label(id),
                    tied: l.users[1..].iter().map(|&u| graph.node_label(u)).collect(),
                    op: l.op.clone(),
                    weight: l.weight.clone(),
                    parameters: l.parameters,
                    statistic: self.scores.0[&id],
                    per_cycle: l.cycles.iter().map(|c| c.get(self.statistic)).collect(),
                }
            })
            .collect()
    }

    /// The `analyze` report, labelled from `graph`.
    pub fn report(&self, graph: &Graph, options: &TrainOptions) -> AnalyzeReport {
        AnalyzeReport {
            statistic: self.statistic,
            cycles: options.cycles,
            steps_per_cycle: self.train.steps_per_cycle,
            learning_rate: options.learning_rate,
            batch_size: options.batch_size,
            seed: options.seed,
            include_bias: options.include_bias,
            loss: self.train.loss.clone(),
            loss_per_cycle: self.train.loss_per_cycle.clone(),
            layers: self.ranked(graph),
            seconds: self.train.seconds,
            warnings: self.warnings.clone(),
        }
    }
}

/// Fine-tunes `model` on `data` and ranks its quantization units by
/// `statistic`, ascending (ties keep graph order): [`drift`], rendered.
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
    Ok(drift(model, data, options, statistic, observer)?.report(&model.graph, options))
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
                let tied: String = l.tied.iter().map(|t| format!(" +{t}")).collect();
                [
                    l.rank.to_string(),
                    format!("{}{tied}", l.node),
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

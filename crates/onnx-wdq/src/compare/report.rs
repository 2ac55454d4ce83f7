//! The comparison's report: `DIR/compare.json`, and the table printed on
//! stdout.

use crate::inspect::table;
use crate::quantize::Reference;
use serde::Serialize;
use wdq_plan::CurveSpread;

/// What a criterion's scores cost, apart from the curve evaluations that
/// compare the criteria.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cost {
    /// Full validation-set evaluations needed to compute the scores.
    pub evaluations: usize,
    /// Wall seconds spent computing the scores (shared work counted in
    /// full for every criterion that uses it).
    pub seconds: f64,
    /// Fine-tuning cycles and optimizer steps (drift criteria).
    pub training_cycles: usize,
    pub training_steps: usize,
    /// The work, in words.
    pub work: String,
}

/// One point of a loss curve: the first `m` layers of the order at low
/// bits, the rest at high bits.
#[derive(Clone, Debug, Serialize)]
pub struct CurvePoint {
    pub m: usize,
    pub layers: Vec<String>,
    pub accuracy: f64,
    /// reference - accuracy, in percentage points.
    pub loss: f64,
    pub weight_bytes: usize,
}

/// What a search strategy chose on a criterion's order, answered from the
/// cached evaluations.
#[derive(Clone, Debug, Serialize)]
pub struct SearchSummary {
    /// Layers the search put at low bits.
    pub low_bit_layers: usize,
    pub met_threshold: bool,
    /// Evaluations the search on its own would have run.
    pub evaluations: usize,
    /// The prefix lengths it evaluated, in order.
    pub tried: Vec<usize>,
    /// Whether the evaluated losses did not grow with the prefix.
    pub non_monotonic: bool,
}

/// One criterion (or one random order): its scores, order, cost and curve.
#[derive(Clone, Debug, Serialize)]
pub struct CriterionResult {
    pub criterion: String,
    /// Whether a smaller score is a better low-bit candidate.
    pub ascending: bool,
    /// Score per layer, graph order (null where not defined).
    pub scores: Vec<f64>,
    /// Layer labels, best low-bit candidate first.
    pub order: Vec<String>,
    pub cost: Cost,
    pub curve: Vec<CurvePoint>,
    /// Trapezoid area under the loss curve over m, divided by the layer
    /// count, in points: lower is a better order.
    pub auc: f64,
    /// The largest evaluated m whose loss is within the threshold.
    pub largest_within: Option<usize>,
    pub halving: SearchSummary,
    pub bisect: SearchSummary,
}

/// The random orders and their mean curve.
#[derive(Clone, Debug, Serialize)]
pub struct RandomSummary {
    pub seed: u64,
    pub runs: Vec<CriterionResult>,
    /// Losses over the runs at each evaluated m.
    pub spread: CurveSpread,
    pub auc_mean: f64,
    pub auc_std: f64,
}

/// A weighted layer of the model, graph order.
#[derive(Clone, Debug, Serialize)]
pub struct LayerRow {
    pub node: String,
    pub op: String,
    pub parameters: usize,
}

/// The fine-tuning run the drift criteria share.
#[derive(Clone, Debug, Serialize)]
pub struct TrainingSummary {
    pub cycles: usize,
    pub steps_per_cycle: usize,
    pub loss: String,
    pub loss_per_cycle: Vec<f64>,
    pub seconds: f64,
    /// The statistic drawn in drift.svg (`--statistic`), per layer.
    pub statistic: String,
    pub drift: Vec<f64>,
}

/// One distinct evaluated layer set.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateRow {
    pub layers: Vec<String>,
    pub accuracy: f64,
    pub loss: f64,
    pub weight_bytes: usize,
    pub seconds: f64,
    /// No other candidate is at most as large and at least as accurate.
    pub pareto: bool,
}

/// One row of the summary: a criterion, or the mean of the random orders.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryRow {
    pub criterion: String,
    pub auc: f64,
    /// Standard deviation over the random orders (random only).
    pub auc_std: Option<f64>,
    /// The largest m within the threshold (the mean over orders for
    /// random, counting an order with none as 0).
    pub largest_within: Option<f64>,
    /// Layers halving / bisect chose (means for random).
    pub halving_layers: f64,
    pub bisect_layers: f64,
    /// Evaluations halving / bisect needed (means for random).
    pub halving_evaluations: f64,
    pub bisect_evaluations: f64,
    pub cost_evaluations: usize,
    pub cost_seconds: f64,
    pub cost: String,
}

/// Distinct and requested evaluations.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct EvaluationCounts {
    /// Distinct layer sets measured (each once).
    pub unique: usize,
    /// Sets asked for by curves, scores and searches together.
    pub requests: usize,
}

/// Wall seconds of each phase.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CompareTimes {
    pub calibrate: f64,
    pub criteria: f64,
    pub curves: f64,
    pub searches: f64,
}

/// Everything `compare` measured.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    pub metric: String,
    pub reference: Reference,
    pub threshold: f64,
    pub low_bits: u8,
    pub high_bits: u8,
    pub fp32_accuracy: f64,
    pub all_high_accuracy: f64,
    pub reference_accuracy: f64,
    pub layers: Vec<LayerRow>,
    /// The m values of every curve.
    pub prefix_lengths: Vec<usize>,
    pub training: Option<TrainingSummary>,
    pub criteria: Vec<CriterionResult>,
    pub random: Option<RandomSummary>,
    pub candidates: Vec<CandidateRow>,
    pub evaluations: EvaluationCounts,
    pub summary: Vec<SummaryRow>,
    pub seconds: CompareTimes,
    /// Threads the evaluations ran on.
    pub threads: usize,
    /// What a reader should know to judge the results (criteria whose
    /// scores cannot tell the layers apart, and the like).
    pub notes: Vec<String>,
}

fn count(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

impl CompareReport {
    /// The human summary: one row per criterion, then the orders.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} on validation: fp32 {:.2}%, all {}-bit {:.2}%; loss in points vs {} (threshold {:.2}); {} layers, m = {}\n",
            self.metric,
            self.fp32_accuracy,
            self.high_bits,
            self.all_high_accuracy,
            match self.reference {
                Reference::Fp32 => "fp32",
                Reference::High => "all high bits",
            },
            self.threshold,
            self.layers.len(),
            self.prefix_lengths.iter().map(usize::to_string).collect::<Vec<_>>().join(","),
        );
        let rows: Vec<[String; 7]> = self
            .summary
            .iter()
            .map(|r| {
                [
                    r.criterion.clone(),
                    match r.auc_std {
                        Some(sd) => format!("{:.3} ± {sd:.3}", r.auc),
                        None => format!("{:.3}", r.auc),
                    },
                    r.largest_within.map_or_else(|| "none".to_string(), count),
                    format!(
                        "{} ({} ev)",
                        count(r.halving_layers),
                        count(r.halving_evaluations)
                    ),
                    format!(
                        "{} ({} ev)",
                        count(r.bisect_layers),
                        count(r.bisect_evaluations)
                    ),
                    format!("{} ev, {:.2} s", r.cost_evaluations, r.cost_seconds),
                    r.cost.clone(),
                ]
            })
            .collect();
        s += &table(
            &[
                "criterion",
                "AUC (points)",
                "max m within",
                "halving m",
                "bisect m",
                "criterion cost",
                "work",
            ],
            &rows,
        );
        s += "orders (best low-bit candidate first) and loss at each m:\n";
        let orders: Vec<[String; 3]> = self
            .criteria
            .iter()
            .chain(self.random.iter().flat_map(|r| &r.runs))
            .map(|c| {
                let losses: Vec<String> =
                    c.curve.iter().map(|p| format!("{:.2}", p.loss)).collect();
                [c.criterion.clone(), c.order.join(" "), losses.join(" ")]
            })
            .collect();
        s += &table(&["criterion", "order", "loss"], &orders);
        s += &format!(
            "evaluations: {} distinct layer sets measured for {} requests ({} threads)\n",
            self.evaluations.unique, self.evaluations.requests, self.threads
        );
        for note in &self.notes {
            s += &format!("note: {note}\n");
        }
        s
    }
}

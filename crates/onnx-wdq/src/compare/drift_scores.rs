//! The drift scores of the `compare` criteria: the one criterion input
//! that joins a fine-tuning run's report with the layer order. The
//! criteria themselves and their orders live in `wdq_plan::criteria`.

use wdq_ir::NodeId;
use wdq_train::{over_cycles, Statistic, TrainReport};

/// The drift statistic S of every unit of `layers` (unit keys, graph
/// order) from one fine-tuning run; NaN for a unit the run did not track.
pub fn drift_scores(report: &TrainReport, layers: &[NodeId], statistic: Statistic) -> Vec<f64> {
    layers
        .iter()
        .map(|&node| {
            report
                .layers
                .get(node)
                .map_or(f64::NAN, |l| over_cycles(&l.cycles, statistic))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdq_plan::criteria::{normalized_drift, Criterion, WeightStats};
    use wdq_train::{CycleDrift, LayerDrift};

    #[test]
    fn normalized_drift_divides_by_the_weight_variance() {
        let layer = |node: u32, w0: &[f32], w: &[f32]| LayerDrift {
            users: vec![NodeId(node)],
            op: "Conv".to_string(),
            weight: format!("w{node}"),
            tensors: vec![format!("w{node}")],
            parameters: w0.len(),
            cycles: vec![CycleDrift::between(w0, w)],
        };
        let report = TrainReport {
            // a: D = [0.1, -0.1], mean square 0.01; b: D = [0.2, 0.2], 0.04.
            layers: [
                (NodeId(0), layer(0, &[0.0, 1.0], &[0.1, 0.9])),
                (NodeId(1), layer(1, &[-4.0, 4.0], &[-3.8, 4.2])),
            ]
            .into_iter()
            .collect(),
            loss_per_cycle: vec![0.0],
            steps_per_cycle: 1,
            loss: "cross-entropy".to_string(),
            seconds: 0.0,
        };
        let layers = [NodeId(0), NodeId(1), NodeId(7)];
        let s = drift_scores(&report, &layers, Statistic::MeanSquare);
        assert!((s[0] - 0.01).abs() < 1e-6 && (s[1] - 0.04).abs() < 1e-6 && s[2].is_nan());
        // var(a.W0) = 0.25, var(b.W0) = 16: normalised 0.04 and 0.0025.
        let w = [
            WeightStats::of(&[0.0, 1.0]),
            WeightStats::of(&[-4.0, 4.0]),
            WeightStats::of(&[1.0]),
        ];
        let n = normalized_drift(&s, &w);
        assert!((n[0] - 0.04).abs() < 1e-6 && (n[1] - 0.0025).abs() < 1e-6 && n[2].is_nan());
        // Plain drift puts a first; normalised drift puts b first.
        assert_eq!(
            Criterion::Drift(Statistic::MeanSquare).order(&s),
            vec![0, 1, 2]
        );
        assert_eq!(Criterion::NormalizedDrift.order(&n), vec![1, 0, 2]);
    }
}

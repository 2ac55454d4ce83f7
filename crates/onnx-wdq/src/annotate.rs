//! The analysis results, written into the emitted model: while the
//! pipeline runs they are side tables keyed by node id; here they become
//! `metadata_props`, which Netron shows and a downstream compiler can read.
//!
//! Each weighted node (every user of a tied weight) gets `wdq.statistic`,
//! `wdq.rank`, `wdq.bits`, `wdq.scale_min`, `wdq.scale_max` and, with
//! power-of-two scales, `wdq.fraction_length` (`n` or `min..max` of its
//! Qm.n formats). The model gets `wdq.tool`, `wdq.options`, `wdq.metric`,
//! `wdq.threshold`, `wdq.reference`, and the reference, all-high and
//! written model's scores. Earlier `wdq.*` entries are replaced, except
//! `wdq.folded` (the nodes graph preparation folded into a layer, written
//! by [`wdq_lower::FoldIntoLayers`]).

use crate::analyze::Drift;
use crate::quantize::{QuantizeOptions, QuantizeReport, Reference};
use wdq_ir::Model;
use wdq_lower::Lowered;

/// The key prefix of every annotation.
pub const PREFIX: &str = "wdq.";

/// Annotates `lowered.model` from the drift side table, the lowering
/// record and the report.
pub fn annotate(
    lowered: &mut Lowered,
    drift: &Drift,
    report: &QuantizeReport,
    options: &QuantizeOptions,
) {
    let graph = &mut lowered.model.graph;
    for (rank, &unit) in drift.order.iter().enumerate() {
        let Some(users) = drift.train.layers.get(unit).map(|l| l.users.clone()) else {
            continue;
        };
        for user in users {
            let mut notes = vec![
                ("statistic", format!("{:e}", drift.scores.0[&unit])),
                ("rank", (rank + 1).to_string()),
            ];
            if let Some(l) = lowered.layers.iter().find(|l| l.id == user) {
                notes.push(("bits", l.bits.to_string()));
                notes.push(("scale_min", format!("{:e}", l.scales_min)));
                notes.push(("scale_max", format!("{:e}", l.scales_max)));
                if let Some((lo, hi)) = l.fraction_lengths {
                    let n = if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}..{hi}")
                    };
                    notes.push(("fraction_length", n));
                }
            }
            replace(&mut graph.node_mut(user).metadata, &notes);
        }
    }
    let reference = match report.reference {
        Reference::Fp32 => "original",
        Reference::High => "all-high",
    };
    let notes = [
        ("tool", format!("onnx-wdq {}", env!("CARGO_PKG_VERSION"))),
        ("options", options_line(options)),
        ("metric", report.metric.clone()),
        ("threshold", report.threshold.to_string()),
        ("reference", reference.to_string()),
        ("original_score", report.fp32_accuracy.to_string()),
        ("all_high_score", report.all_high_accuracy.to_string()),
        ("written_score", report.final_accuracy.to_string()),
    ];
    replace(&mut lowered.model.metadata, &notes);
}

/// The options that decide the output, as `name=value` pairs.
fn options_line(o: &QuantizeOptions) -> String {
    let selection = serde_json::to_string(&o.selection).unwrap_or_default();
    format!(
        "low_bits={} high_bits={} statistic={} selection={selection} skip_smallest={} \
         cycles={} lr={} batch_size={} seed={} include_bias={} scale={:?} granularity={:?} \
         activations={:?} bias={:?} int4_storage={:?} calibration={:?} calibration_samples={} \
         target={} weight_range={:?} symmetric_activations={}",
        o.low_bits,
        o.high_bits,
        o.statistic.name(),
        o.skip_smallest,
        o.train.cycles,
        o.train.learning_rate,
        o.train.batch_size,
        o.train.seed,
        o.train.include_bias,
        o.lower.scale,
        o.lower.granularity,
        o.lower.activations,
        o.lower.bias,
        o.lower.int4_storage,
        o.calibration,
        o.calibration_samples,
        o.target.profile().name,
        o.lower.weight_range,
        o.lower.symmetric_activations,
    )
}

/// `pairs` minus earlier `wdq.*` entries (but `wdq.folded`), plus `notes`
/// under the prefix.
fn replace(pairs: &mut Vec<(String, String)>, notes: &[(&str, String)]) {
    pairs.retain(|(k, _)| !k.starts_with(PREFIX) || k == wdq_lower::FOLDED_KEY);
    pairs.extend(
        notes
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), v.clone())),
    );
}

/// The annotations of a model as text, one line per annotated node and one
/// for the model: what the README shows and the snapshot tests pin.
pub fn dump(model: &Model) -> String {
    let mut s = String::new();
    for (k, v) in model.metadata.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
        s += &format!("model {k} = {v}\n");
    }
    let graph = &model.graph;
    for (id, node) in graph.live_nodes() {
        let notes: Vec<String> = node
            .metadata
            .iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .map(|(k, v)| format!("{}={v}", &k[PREFIX.len()..]))
            .collect();
        if !notes.is_empty() {
            s += &format!(
                "{} ({}): {}\n",
                graph.node_label(id),
                node.op.op_type(),
                notes.join(" ")
            );
        }
    }
    s
}

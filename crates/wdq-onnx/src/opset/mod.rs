//! Default-domain opset conversion: upgrades, and downgrades to
//! [`MIN_DOWN_TARGET`] at the lowest.
//!
//! Each node walks through the schema changes of its op between the
//! model's opset and the target (`history`), forwards for an upgrade and
//! backwards for a downgrade; each change is either compatible, rewritten
//! by an adapter (a downgrade decomposes an op the target lacks into older
//! ops), or refused (`steps`). Subgraphs
//! stay encoded and must need no rewrite (`subgraph`). The conversion
//! works on a copy: on error the model is left as it was.

mod adapters;
mod edit;
mod history;
mod infer;
mod steps;
mod subgraph;

pub use history::MAX_TARGET;

use crate::OnnxError;
use edit::{NodeAttrs, Rewriter};
use history::schema_versions;
use std::collections::BTreeMap;
pub use steps::MIN_DOWN_TARGET;
use steps::{next_change, Step};
use wdq_ir::{Model, Op};

/// What [`convert_opset`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Default-domain opset version before the conversion.
    pub from: i64,
    /// Default-domain opset version after the conversion.
    pub to: i64,
    /// Number of nodes rewritten, per op type (as the op was named before
    /// the conversion: `Upsample`, not `Resize`).
    pub rewritten: BTreeMap<String, usize>,
}

/// The IR version that opset `opset` of the default domain first shipped with.
pub fn ir_version_for_opset(opset: i64) -> i64 {
    match opset {
        ..=8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        12..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        _ => 10,
    }
}

/// Converts the default-domain opset of `model` to `target` (up to
/// [`MAX_TARGET`], down to [`MIN_DOWN_TARGET`]), rewriting the nodes whose
/// op signature changed in between (attributes that became inputs, removed
/// attributes, changed defaults, Softmax-family axis semantics, Upsample to
/// Resize; for a downgrade the reverse, and ops the target lacks, such as
/// LayerNormalization or HardSwish, decomposed), and raises the model's IR
/// version to what the target opset needs (never lowers it).
///
/// # Errors
/// [`OnnxError::OpsetRequest`] when the model has no default-domain opset,
/// for a downgrade below [`MIN_DOWN_TARGET`], or for a target above
/// [`MAX_TARGET`];
/// [`OnnxError::OpsetConversion`] naming the first node that cannot be
/// converted (an op unknown to the converter, a combination of attributes
/// without a faithful new form, a subgraph that would need rewriting).
/// On error `model` is unchanged.
pub fn convert_opset(model: &mut Model, target: i64) -> Result<ConvertSummary, OnnxError> {
    let request = |why: String| OnnxError::OpsetRequest { target, why };
    let from = model
        .default_opset()
        .ok_or_else(|| request("the model imports no default-domain opset".into()))?;
    if target < from && target < MIN_DOWN_TARGET {
        return Err(request(format!(
            "downgrading from opset {from} below opset {MIN_DOWN_TARGET} is not supported"
        )));
    }
    if target > MAX_TARGET {
        return Err(request(format!(
            "opsets above {MAX_TARGET} are not supported"
        )));
    }
    let mut summary = ConvertSummary {
        from,
        to: target,
        rewritten: BTreeMap::new(),
    };
    if target == from {
        return Ok(summary);
    }
    crate::export::check_ids(&model.graph)?;
    wdq_ir::verify(&model.graph)?;
    let mut graph = model.graph.clone();
    let facts = infer::infer(&graph);
    let order = graph.order.clone();
    let mut rw = Rewriter::new(&mut graph);
    for id in order {
        let before = rw.graph.node(id).clone();
        let label = rw.graph.node_label(id);
        let fail = |why: String| OnnxError::OpsetConversion {
            node: label.clone(),
            op: before.op.op_type().to_string(),
            why,
        };
        if let Op::Opaque { attrs, .. } = &before.op {
            if let Some(why) = subgraph::blocking_subgraph_node(attrs, from, target) {
                return Err(fail(why));
            }
        }
        let mut attrs = NodeAttrs::of(&before.op);
        if !(attrs.domain.is_empty() || attrs.domain == "ai.onnx") {
            continue;
        }
        let mut at = from;
        loop {
            let versions = schema_versions(&attrs.op_type).ok_or_else(|| {
                fail(format!(
                    "`{}` is not a default-domain op the converter knows",
                    attrs.op_type
                ))
            })?;
            let Some((version, change)) = next_change(&attrs.op_type, versions, at, target) else {
                break;
            };
            let outcome = match change {
                Step::Same => Ok(()),
                Step::Refuse(why) => Err(why.to_string()),
                Step::Drop(added) => adapters::drop_older(&mut attrs, added, version),
                Step::Rewrite(adapter) => adapter(&mut rw, &facts, id, &mut attrs, version),
            };
            outcome.map_err(|why| fail(format!("opset {version}: {why}")))?;
            at = if target > from { version } else { version - 1 };
        }
        let op = attrs.into_op();
        let node = rw.graph.node(id);
        if op != before.op || node.inputs != before.inputs || node.outputs != before.outputs {
            rw.graph.node_mut(id).op = op;
            *summary
                .rewritten
                .entry(before.op.op_type().to_string())
                .or_default() += 1;
        }
    }
    let added_constants = rw.added_constants;
    wdq_ir::verify(&graph)?;
    model.graph = graph;
    for opset in model.opsets.iter_mut() {
        if opset.domain.is_empty() || opset.domain == "ai.onnx" {
            opset.version = target;
        }
    }
    let floor = if added_constants { 4 } else { 0 };
    model.ir_version = model
        .ir_version
        .max(ir_version_for_opset(target))
        .max(floor);
    Ok(summary)
}

//! The reverse pass: which values carry a gradient, and the gradient nodes
//! of every forward node between a parameter and the loss.
//!
//! A value is *active* when it depends on a parameter through ops that
//! carry gradients (shape math, comparisons and integer casts do not: their
//! outputs are constants as far as training is concerned). A node is
//! differentiated when one of its outputs is active and reaches the loss;
//! it then must have a rule, or the pass fails naming it. Only active
//! inputs get gradients, so nothing is computed for graph inputs or
//! branches without parameters. Contributions to one value from several
//! users are added in reverse graph order.

use crate::builder::Builder;
use crate::rules::{self, Ctx};
use crate::AutodiffError;
use std::collections::HashMap;
use wdq_ir::{DType, NodeId, Op, ValueId};

/// Whether an op's outputs can carry a gradient from its inputs.
fn carries(op: &Op) -> bool {
    match op {
        Op::Shape(_)
        | Op::Equal
        | Op::Greater
        | Op::Less
        | Op::Not
        | Op::ConstantOfShape(_)
        | Op::Range
        | Op::Constant(_) => false,
        Op::Cast(a) => {
            a.to.and_then(|t| i32::try_from(t).ok())
                .and_then(DType::from_onnx)
                .is_some_and(DType::is_float)
        }
        _ => true,
    }
}

/// Output slots that never carry a gradient even when the node does.
fn passive_output(op: &Op, slot: usize) -> bool {
    match op {
        Op::Dropout(_) | Op::MaxPool(_) => slot > 0,
        Op::LayerNormalization(_) | Op::BatchNormalization(_) => slot > 0,
        _ => false,
    }
}

/// Differentiates the forward nodes `forward` (in topological order) from
/// the seed gradient `seed` of value `output`; returns the gradient of each
/// parameter in `params` that the loss reaches.
///
/// # Errors
/// [`AutodiffError::NonDifferentiable`] / [`AutodiffError::UnsupportedInput`]
/// for a node on a parameter-to-loss path that has no rule.
pub(crate) fn backward(
    b: &mut Builder<'_>,
    forward: &[NodeId],
    params: &[ValueId],
    output: ValueId,
    seed: ValueId,
    opset: i64,
) -> Result<HashMap<ValueId, ValueId>, AutodiffError> {
    let mut active = vec![false; b.graph.values.len()];
    for p in params {
        active[p.index()] = true;
    }
    for &id in forward {
        let node = b.graph.node(id);
        if !carries(&node.op) || !node.inputs.iter().flatten().any(|v| active[v.index()]) {
            continue;
        }
        for (slot, out) in node.outputs.iter().enumerate() {
            if let Some(v) = out {
                active[v.index()] = !passive_output(&node.op, slot);
            }
        }
    }
    let mut needed = vec![false; b.graph.values.len()];
    needed[output.index()] = active[output.index()];
    for &id in forward.iter().rev() {
        let node = b.graph.node(id);
        if node.outputs.iter().flatten().any(|v| needed[v.index()]) {
            for v in node.inputs.iter().flatten() {
                if active[v.index()] {
                    needed[v.index()] = true;
                }
            }
        }
    }
    let mut parts: HashMap<ValueId, Vec<ValueId>> = HashMap::new();
    parts.insert(output, vec![seed]);
    for &id in forward.iter().rev() {
        let node = b.graph.node(id).clone();
        let dy: Vec<Option<ValueId>> = node
            .outputs
            .iter()
            .map(|o| o.filter(|v| needed[v.index()]))
            .map(|o| o.and_then(|v| sum(b, &mut parts, v)))
            .collect();
        if dy.iter().all(Option::is_none) {
            continue;
        }
        let want: Vec<bool> = node
            .inputs
            .iter()
            .map(|i| i.is_some_and(|v| needed[v.index()]))
            .collect();
        if !want.contains(&true) {
            continue;
        }
        let mut ctx = Ctx {
            label: b.graph.node_label(id),
            b,
            node: &node,
            dy,
            want,
            opset,
        };
        let grads = rules::apply(&mut ctx)?;
        for (slot, g) in grads.into_iter().enumerate() {
            if let (Some(g), Some(v)) = (g, node.input(slot)) {
                if needed[v.index()] {
                    parts.entry(v).or_default().push(g);
                }
            }
        }
    }
    let mut out = HashMap::new();
    for &p in params {
        if let Some(g) = sum(b, &mut parts, p) {
            out.insert(p, g);
        }
    }
    Ok(out)
}

/// The sum of the contributions to `v` (one Add per extra contribution).
fn sum(
    b: &mut Builder<'_>,
    parts: &mut HashMap<ValueId, Vec<ValueId>>,
    v: ValueId,
) -> Option<ValueId> {
    let list = parts.remove(&v)?;
    let mut it = list.into_iter();
    let first = it.next()?;
    let hint = format!("{}.grad", b.graph.value(v).name);
    let total = it.fold(first, |acc, g| b.one(&hint, Op::Add, &[acc, g]));
    parts.insert(v, vec![total]);
    Some(total)
}

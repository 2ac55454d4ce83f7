//! A light forward pass that finds the rank and element type of values
//! where the file does not declare them, for the adapters that need them
//! (Softmax's axis coercion, Clip's and Pad's new typed inputs).
//!
//! It knows only the ops whose output rank and type follow simply from
//! their inputs (the generic shape rules of the ops' metadata rows,
//! [`wdq_ir::OpMeta`], and a few own rules below); anything else stays
//! unknown, and adapters then take a form that does not need the fact, or
//! refuse.

use super::edit::NodeAttrs;
use wdq_ir::{AttrValue, DType, Graph, Node, Op, ShapeRule, ValueDef, ValueId};

/// Rank and element type per value (indexed by `ValueId`).
pub(crate) struct Facts {
    pub rank: Vec<Option<usize>>,
    pub dtype: Vec<Option<DType>>,
}

impl Facts {
    pub(crate) fn rank(&self, v: ValueId) -> Option<usize> {
        self.rank.get(v.index()).copied().flatten()
    }
    pub(crate) fn dtype(&self, v: ValueId) -> Option<DType> {
        self.dtype.get(v.index()).copied().flatten()
    }
}

/// Computes the facts for every value of `graph`.
pub(crate) fn infer(graph: &Graph) -> Facts {
    let mut facts = Facts {
        rank: vec![None; graph.values.len()],
        dtype: vec![None; graph.values.len()],
    };
    for (i, value) in graph.values.iter().enumerate() {
        if let ValueDef::Initializer(t) = &value.def {
            facts.rank[i] = Some(t.shape().len());
            facts.dtype[i] = Some(t.dtype());
        }
        if let Some(ty) = &value.ty {
            facts.dtype[i] = Some(ty.dtype);
            if let Some(shape) = &ty.shape {
                facts.rank[i] = Some(shape.len());
            }
        }
    }
    for (_, node) in graph.live_nodes() {
        let (rank, dtype) = node_facts(graph, node, &facts);
        for out in node.outputs.iter().flatten() {
            let i = out.index();
            if facts.rank[i].is_none() {
                facts.rank[i] = rank;
            }
            if facts.dtype[i].is_none() {
                facts.dtype[i] = dtype;
            }
        }
    }
    facts
}

/// The constant integer list behind input `slot`, or the attribute `attr`.
fn int_list(
    graph: &Graph,
    node: &Node,
    attrs: &NodeAttrs,
    attr: &str,
    slot: usize,
) -> Option<Vec<i64>> {
    if let Some(AttrValue::Ints(v)) = attrs.get(attr) {
        return Some(v);
    }
    let (_, t) = graph.resolve_const(node.input(slot)?)?;
    t.to_i64_vec()
}

fn node_facts(graph: &Graph, node: &Node, facts: &Facts) -> (Option<usize>, Option<DType>) {
    let input_rank = |slot: usize| node.input(slot).and_then(|v| facts.rank(v));
    let input_type = |slot: usize| node.input(slot).and_then(|v| facts.dtype(v));
    let attrs = NodeAttrs::of(&node.op);
    let op = attrs.op_type.as_str();
    if !attrs.domain.is_empty() && attrs.domain != "ai.onnx" {
        return (None, None);
    }
    let max_rank = || {
        node.inputs
            .iter()
            .map(|i| i.and_then(|v| facts.rank(v)))
            .collect::<Option<Vec<_>>>()
            .and_then(|r| r.into_iter().max())
    };
    // Ops with a generic rule take it from their metadata row.
    match wdq_ir::meta_by_name(op).map(|m| m.shape) {
        Some(ShapeRule::Same | ShapeRule::SameRank) => return (input_rank(0), input_type(0)),
        Some(ShapeRule::Broadcast) => return (max_rank(), input_type(0)),
        Some(ShapeRule::Compare) => return (max_rank(), Some(DType::Bool)),
        Some(ShapeRule::Own) | None => {}
    }
    match op {
        "Not" => (input_rank(0), Some(DType::Bool)),
        "Where" => (max_rank(), input_type(1)),
        "Gemm" | "Flatten" => (Some(2), input_type(0)),
        "MatMul" => {
            let rank = match (input_rank(0), input_rank(1)) {
                (Some(1), Some(1)) => Some(0),
                (Some(1), Some(b)) => b.checked_sub(1),
                (Some(a), Some(1)) => a.checked_sub(1),
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            (rank, input_type(0))
        }
        "Cast" => (
            input_rank(0),
            attrs.int("to").and_then(|c| DType::from_onnx(c as i32)),
        ),
        "Shape" => (Some(1), Some(DType::I64)),
        "Constant" => match &node.op {
            Op::Constant(c) => {
                let t = wdq_ir::constant_tensor(c);
                (t.as_ref().map(|t| t.shape().len()), t.map(|t| t.dtype()))
            }
            _ => (None, None),
        },
        "Squeeze" | "Unsqueeze" => {
            let axes = int_list(graph, node, &attrs, "axes", 1).map(|a| a.len());
            let rank = match (input_rank(0), axes) {
                (Some(r), Some(n)) if op == "Unsqueeze" => Some(r + n),
                (Some(r), Some(n)) => r.checked_sub(n),
                _ => None,
            };
            (rank, input_type(0))
        }
        _ if op.starts_with("Reduce") => {
            let keep = attrs.int("keepdims").unwrap_or(1) != 0;
            let rank = match (keep, input_rank(0)) {
                (true, r) => r,
                (false, Some(r)) => match int_list(graph, node, &attrs, "axes", 1) {
                    Some(a) if !a.is_empty() => r.checked_sub(a.len()),
                    _ => Some(0),
                },
                _ => None,
            };
            (rank, input_type(0))
        }
        "Reshape" => (
            int_list(graph, node, &attrs, "shape", 1).map(|s| s.len()),
            input_type(0),
        ),
        "Gather" => match (input_rank(0), input_rank(1)) {
            (Some(a), Some(b)) => ((a + b).checked_sub(1), input_type(0)),
            _ => (None, input_type(0)),
        },
        "QuantizeLinear" => (input_rank(0), input_type(2).or(Some(DType::U8))),
        "DequantizeLinear" => (input_rank(0), input_type(1)),
        _ => (None, None),
    }
}

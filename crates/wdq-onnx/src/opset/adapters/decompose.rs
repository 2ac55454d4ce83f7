//! Ops that do not exist at a downgrade's target opset, rewritten as the
//! older ops they are defined by: LayerNormalization (17), HardSwish (14),
//! Mish (18), Gelu (20), and Shape's `start`/`end` (15) as a Slice. The
//! added nodes are written in the target's form; the decomposed node
//! becomes the last of them, so its output keeps its name and readers.

use super::inputs::scalar_of;
use super::Outcome;
use crate::opset::edit::{NodeAttrs, Rewriter};
use crate::opset::infer::Facts;
use wdq_ir::{AttrValue, NodeId, Tensor, ValueDef, ValueId};

fn input(rw: &Rewriter, node: NodeId, slot: usize) -> Result<ValueId, String> {
    rw.graph
        .node(node)
        .input(slot)
        .ok_or_else(|| format!("the node has no input {slot}"))
}

/// Adds a scalar constant of the element type of the node's inputs (the
/// decomposed ops take one type for all of them).
fn scalar(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    x: f32,
    what: &str,
) -> Result<ValueId, String> {
    let inputs = rw.graph.node(node).inputs.clone();
    let dtype = inputs.iter().flatten().find_map(|&v| facts.dtype(v));
    let t = scalar_of(dtype, x, what)?;
    let base = format!("{}_{what}", rw.graph.node_label(node));
    Ok(rw.constant(&base, t))
}

/// Refuses when an optional output other than the first is read, and
/// drops the unread ones.
fn only_first_output(rw: &mut Rewriter, node: NodeId, what: &str) -> Outcome {
    let outputs = rw.graph.node(node).outputs.clone();
    if outputs.iter().skip(1).flatten().any(|&v| rw.is_read(v)) {
        return Err(format!(
            "{what}'s extra outputs are read; only Y has a decomposition"
        ));
    }
    for dropped in outputs.iter().skip(1).flatten() {
        rw.graph.value_mut(*dropped).def = ValueDef::Input;
    }
    rw.graph.node_mut(node).outputs.truncate(1);
    Ok(())
}

/// `Y = (X - mean) / sqrt(var + epsilon) * Scale + B` over the axes from
/// `axis` on, with the mean and variance of ReduceMean (keepdims).
pub(crate) fn layer_norm_decomposed(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    only_first_output(rw, node, "LayerNormalization")?;
    let (x, scale) = (input(rw, node, 0)?, input(rw, node, 1)?);
    let bias = rw.graph.node(node).input(2);
    let axis = a.int("axis").unwrap_or(-1);
    let axes: Vec<i64> = if axis < 0 {
        (axis..0).collect()
    } else {
        let rank = facts
            .rank(x)
            .ok_or("a non-negative `axis` needs the input's rank, which is not known here")?;
        (axis..rank as i64).collect()
    };
    let epsilon = match a.get("epsilon") {
        None => 1e-5,
        Some(AttrValue::Float(e)) => e,
        Some(_) => return Err("attribute `epsilon` is not a float".into()),
    };
    let eps = scalar(rw, facts, node, epsilon, "epsilon")?;
    let label = rw.graph.node_label(node);
    let mean_op = || {
        NodeAttrs::new("ReduceMean")
            .with("axes", AttrValue::Ints(axes.clone()))
            .with("keepdims", AttrValue::Int(1))
    };
    let mean = rw.op_before(node, &format!("{label}_mean"), mean_op(), vec![Some(x)]);
    let centred = rw.step_before(node, &label, "centred", "Sub", &[x, mean]);
    let square = rw.step_before(node, &label, "square", "Mul", &[centred, centred]);
    let var = rw.op_before(node, &format!("{label}_var"), mean_op(), vec![Some(square)]);
    let var_eps = rw.step_before(node, &label, "var_eps", "Add", &[var, eps]);
    let std = rw.step_before(node, &label, "std", "Sqrt", &[var_eps]);
    let normal = rw.step_before(node, &label, "normal", "Div", &[centred, std]);
    match bias {
        Some(b) => {
            let scaled = rw.step_before(node, &label, "scaled", "Mul", &[normal, scale]);
            a.become_op("Add");
            rw.graph.node_mut(node).inputs = vec![Some(scaled), Some(b)];
        }
        None => {
            a.become_op("Mul");
            rw.graph.node_mut(node).inputs = vec![Some(normal), Some(scale)];
        }
    }
    Ok(())
}

/// `HardSwish(x) = x * HardSigmoid(x; alpha = 1/6, beta = 1/2)`.
pub(crate) fn hard_swish_decomposed(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let x = input(rw, node, 0)?;
    let label = rw.graph.node_label(node);
    let gate = NodeAttrs::new("HardSigmoid")
        .with("alpha", AttrValue::Float(1.0 / 6.0))
        .with("beta", AttrValue::Float(0.5));
    let g = rw.op_before(node, &format!("{label}_gate"), gate, vec![Some(x)]);
    a.become_op("Mul");
    rw.graph.node_mut(node).inputs = vec![Some(x), Some(g)];
    Ok(())
}

/// `Mish(x) = x * tanh(softplus(x))`.
pub(crate) fn mish_decomposed(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let x = input(rw, node, 0)?;
    let label = rw.graph.node_label(node);
    let sp = rw.step_before(node, &label, "softplus", "Softplus", &[x]);
    let t = rw.step_before(node, &label, "tanh", "Tanh", &[sp]);
    a.become_op("Mul");
    rw.graph.node_mut(node).inputs = vec![Some(x), Some(t)];
    Ok(())
}

/// `Gelu(x) = x * (1 + erf(x / sqrt 2)) * 1/2` (the exact form; the tanh
/// approximation is refused).
pub(crate) fn gelu_decomposed(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if a.string("approximate").is_some_and(|s| s != "none") {
        return Err("Gelu's tanh approximation is not decomposed here".into());
    }
    let x = input(rw, node, 0)?;
    let sqrt2 = scalar(rw, facts, node, std::f32::consts::SQRT_2, "sqrt2")?;
    let one = scalar(rw, facts, node, 1.0, "one")?;
    let half = scalar(rw, facts, node, 0.5, "half")?;
    let label = rw.graph.node_label(node);
    let scaled = rw.step_before(node, &label, "scaled", "Div", &[x, sqrt2]);
    let erf = rw.step_before(node, &label, "erf", "Erf", &[scaled]);
    let shifted = rw.step_before(node, &label, "shifted", "Add", &[erf, one]);
    let prod = rw.step_before(node, &label, "prod", "Mul", &[x, shifted]);
    a.become_op("Mul");
    rw.graph.node_mut(node).inputs = vec![Some(prod), Some(half)];
    Ok(())
}

/// Shape-15's `start`/`end` as `Slice(Shape(x), [start], [end])`: both
/// clamp negative and out-of-range bounds the same way.
pub(crate) fn shape_range_as_slice(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let (start, end) = (a.int("start"), a.int("end"));
    if start.is_none() && end.is_none() {
        return Ok(());
    }
    let x = input(rw, node, 0)?;
    let label = rw.graph.node_label(node);
    let full = rw.step_before(node, &label, "full", "Shape", &[x]);
    let starts = rw.constant(
        &format!("{label}_start"),
        Tensor::from_i64(vec![1], vec![start.unwrap_or(0)]),
    );
    let ends = rw.constant(
        &format!("{label}_end"),
        Tensor::from_i64(vec![1], vec![end.unwrap_or(i64::MAX)]),
    );
    a.become_op("Slice");
    rw.graph.node_mut(node).inputs = vec![Some(full), Some(starts), Some(ends)];
    Ok(())
}

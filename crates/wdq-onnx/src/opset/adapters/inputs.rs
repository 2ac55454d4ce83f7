//! Adapters for attributes that became inputs: Clip's bounds and Pad's
//! pads and value (11), Reshape's shape (5), Slice's starts/ends/axes (10),
//! Split's split and the reductions' axes (13/18), Squeeze/Unsqueeze axes
//! (13), Dropout's ratio (12), Upsample's scales (9), TopK's k (10).

use super::Outcome;
use crate::opset::edit::{scalar_f32, NodeAttrs, Rewriter};
use crate::opset::infer::Facts;
use wdq_ir::{AttrValue, DType, NodeId, Tensor, TensorData};

pub(crate) fn dropout_ratio_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.remove("ratio") {
        None => Ok(()),
        Some(AttrValue::Float(r)) => {
            let base = format!("{}_ratio", rw.node_label(node));
            let value = rw.constant(&base, scalar_f32(r));
            rw.set_input(node, 1, Some(value));
            Ok(())
        }
        Some(_) => Err("attribute `ratio` is not a float".into()),
    }
}

/// A scalar of the element type of `node`'s input 0, for the inputs that
/// replace float attributes (Clip's bounds, Pad's value).
fn typed_scalar(
    rw: &Rewriter,
    facts: &Facts,
    node: NodeId,
    x: f32,
    what: &str,
) -> Result<Tensor, String> {
    let dtype = rw.graph.node(node).input(0).and_then(|v| facts.dtype(v));
    match dtype {
        Some(DType::F32) => Ok(scalar_f32(x)),
        Some(DType::F64) => Tensor::new(DType::F64, vec![], TensorData::F64(vec![f64::from(x)]))
            .map_err(|e| e.to_string()),
        Some(other) => Err(format!(
            "{what} as an input of element type {other} is not supported"
        )),
        None => Err(format!(
            "{what} becomes an input of the data's element type, which is not known here"
        )),
    }
}

pub(crate) fn clip_inputs(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    for (attr, slot) in [("min", 1), ("max", 2)] {
        match a.get(attr) {
            None => {}
            Some(AttrValue::Float(x)) => {
                let t = typed_scalar(rw, facts, node, x, &format!("Clip's `{attr}`"))?;
                let base = format!("{}_{attr}", rw.node_label(node));
                let value = rw.constant(&base, t);
                rw.set_input(node, slot, Some(value));
            }
            Some(_) => return Err(format!("attribute `{attr}` is not a float")),
        }
    }
    a.remove("min");
    a.remove("max");
    Ok(())
}

pub(crate) fn pad_inputs(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if !a.has("pads") {
        return Err("Pad has no `pads` attribute".into());
    }
    match a.get("value") {
        None => {}
        Some(AttrValue::Float(0.0)) => {}
        Some(AttrValue::Float(v)) => {
            let t = typed_scalar(rw, facts, node, v, "Pad's `value`")?;
            let base = format!("{}_value", rw.node_label(node));
            let value = rw.constant(&base, t);
            rw.set_input(node, 2, Some(value));
        }
        Some(_) => return Err("attribute `value` is not a float".into()),
    }
    a.remove("value");
    rw.ints_to_input(node, a, "pads", 1)
}

pub(crate) fn reshape_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    a.remove("consumed_inputs");
    if !a.has("shape") {
        return Err("Reshape has neither a `shape` attribute nor an opset-5 form".into());
    }
    rw.ints_to_input(node, a, "shape", 1)
}

pub(crate) fn slice_inputs(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if !a.has("starts") || !a.has("ends") {
        return Err("Slice lacks `starts` or `ends`".into());
    }
    rw.ints_to_input(node, a, "starts", 1)?;
    rw.ints_to_input(node, a, "ends", 2)?;
    rw.ints_to_input(node, a, "axes", 3)
}

pub(crate) fn split_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    rw.ints_to_input(node, a, "split", 1)
}

pub(crate) fn axes_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    rw.ints_to_input(node, a, "axes", 1)
}

pub(crate) fn upsample_scales_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.remove("scales") {
        Some(AttrValue::Floats(s)) => {
            let base = format!("{}_scales", rw.node_label(node));
            let value = rw.constant(&base, Tensor::from_f32(vec![s.len()], s));
            rw.set_input(node, 1, Some(value));
            Ok(())
        }
        None if rw.graph.node(node).input(1).is_some() => Ok(()),
        _ => Err("Upsample has no float `scales`".into()),
    }
}

pub(crate) fn topk_k_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.remove("k") {
        Some(AttrValue::Int(k)) => {
            let base = format!("{}_k", rw.node_label(node));
            let value = rw.constant(&base, Tensor::from_i64(vec![1], vec![k]));
            rw.set_input(node, 1, Some(value));
            Ok(())
        }
        _ => Err("TopK-1 has no int `k`".into()),
    }
}

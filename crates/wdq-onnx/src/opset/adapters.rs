//! The adapters [`super::steps::step`] names: each rewrites one node for
//! the schema of one opset version, or says why it cannot.

use super::edit::{scalar_f32, NodeAttrs, Rewriter};
use super::infer::Facts;
use wdq_ir::op::{AxisAttrs, ReshapeAttrs, ShapeAttrs};
use wdq_ir::{AttrValue, DType, NodeId, Op, Tensor, TensorData, ValueDef};

type Outcome = Result<(), String>;

pub(crate) fn drop_consumed_inputs(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    a.remove("consumed_inputs");
    Ok(())
}

/// Opset 7 dropped `broadcast`/`axis` for numpy-style broadcasting, which
/// agrees with the old suffix broadcasting when no `axis` is given.
pub(crate) fn legacy_broadcast(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if a.int("broadcast").unwrap_or(0) != 0 && a.has("axis") {
        return Err("legacy broadcasting with an explicit `axis` is not supported".into());
    }
    a.remove("broadcast");
    a.remove("axis");
    Ok(())
}

pub(crate) fn drop_broadcast(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    a.remove("broadcast");
    Ok(())
}

pub(crate) fn drop_is_test(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    a.remove("is_test");
    Ok(())
}

/// Opset 7 removed `is_test`, 9 `spatial`; 14 gave the extra outputs a new
/// meaning (training only), so unused ones are dropped and used ones refused.
pub(crate) fn batch_norm(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    version: i64,
) -> Outcome {
    match version {
        7 => {
            a.remove("is_test");
        }
        9 => {
            if a.int("spatial") == Some(0) {
                return Err("spatial=0 (per-activation statistics) has no opset-9 form".into());
            }
            a.remove("spatial");
        }
        _ => drop_extra_outputs(
            rw,
            node,
            "the training outputs of BatchNormalization changed meaning at opset 14",
        )?,
    }
    Ok(())
}

/// Removes outputs after the first that nothing reads; refuses if one is read.
fn drop_extra_outputs(rw: &mut Rewriter, node: NodeId, why: &str) -> Outcome {
    let extra: Vec<_> = rw
        .graph
        .node(node)
        .outputs
        .iter()
        .skip(1)
        .flatten()
        .copied()
        .collect();
    if extra.iter().any(|&v| rw.is_read(v)) {
        return Err(why.to_string());
    }
    for v in extra {
        rw.graph.value_mut(v).def = ValueDef::Input;
    }
    rw.graph.node_mut(node).outputs.truncate(1);
    Ok(())
}

/// Opset 10 made Dropout's mask bool; refused when the mask is read.
pub(crate) fn dropout_mask_bool(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    _: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    drop_extra_outputs(
        rw,
        node,
        "Dropout's mask output changes type at opset 10 and is read",
    )
}

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

pub(crate) fn concat_axis(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if !a.has("axis") {
        a.set("axis", AttrValue::Int(1));
    }
    Ok(())
}

pub(crate) fn cast_to_code(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let Some(AttrValue::String(name)) = a.get("to") else {
        return Ok(());
    };
    let code = match name.to_ascii_uppercase().as_str() {
        "FLOAT" => DType::F32,
        "UINT8" => DType::U8,
        "INT8" => DType::I8,
        "UINT16" => DType::U16,
        "INT16" => DType::I16,
        "INT32" => DType::I32,
        "INT64" => DType::I64,
        "STRING" => DType::String,
        "BOOL" => DType::Bool,
        "FLOAT16" => DType::F16,
        "DOUBLE" => DType::F64,
        "UINT32" => DType::U32,
        "UINT64" => DType::U64,
        _ => return Err(format!("Cast to {name:?} is not a known element type")),
    };
    a.set("to", AttrValue::Int(i64::from(code.onnx_code())));
    Ok(())
}

pub(crate) fn pad_rename(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    a.rename("paddings", "pads");
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

pub(crate) fn split_no_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    _: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if rw.graph.node(node).input(1).is_some() {
        return Err("Split-1's `split` input has no opset-2 form here".into());
    }
    Ok(())
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

/// Opset 18 asks for `num_outputs` when no `split` input is given.
pub(crate) fn split_num_outputs(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if rw.graph.node(node).input(1).is_none() && !a.has("num_outputs") {
        let n = rw.graph.node(node).outputs.len() as i64;
        a.set("num_outputs", AttrValue::Int(n));
    }
    Ok(())
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

/// Opset 13 made Softmax, LogSoftmax and Hardmax act on one axis instead of
/// coercing the input to 2-D at `axis`. When `axis` is the last one the
/// meanings agree; otherwise the old coercion is spelled out:
/// `Reshape(op(Flatten(x, axis), axis=1), Shape(x))`, which works for any
/// shape, static or not.
pub(crate) fn softmax_axis(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let axis = a.int("axis").unwrap_or(1);
    let x = rw
        .graph
        .node(node)
        .input(0)
        .ok_or("the node has no input")?;
    let y = rw
        .graph
        .node(node)
        .output(0)
        .ok_or("the node has no output")?;
    if let Some(rank) = facts.rank(x) {
        let r = rank as i64;
        let positive = if axis < 0 { axis + r } else { axis };
        if positive < 0 || (r > 0 && positive >= r) {
            return Err(format!(
                "axis {axis} is out of range for an input of rank {rank}"
            ));
        }
        if positive + 1 >= r {
            a.set("axis", AttrValue::Int(positive));
            return Ok(());
        }
    }
    let label = rw.node_label(node);
    let y_name = rw.graph.value(y).name.clone();
    let flat = rw.value(&format!("{y_name}_2d_in"));
    let shape = rw.value(&format!("{y_name}_shape"));
    let flat_out = rw.value(&format!("{y_name}_2d"));
    let flatten = Op::Flatten(AxisAttrs { axis: Some(axis) });
    rw.insert(
        node,
        false,
        &format!("{label}_flatten"),
        flatten,
        vec![Some(x)],
        vec![Some(flat)],
    );
    let shape_op = Op::Shape(ShapeAttrs::default());
    rw.insert(
        node,
        false,
        &format!("{label}_shape"),
        shape_op,
        vec![Some(x)],
        vec![Some(shape)],
    );
    rw.graph.node_mut(node).inputs[0] = Some(flat);
    rw.graph.node_mut(node).outputs[0] = Some(flat_out);
    rw.graph.value_mut(flat_out).def = ValueDef::Node { node, slot: 0 };
    let reshape = Op::Reshape(ReshapeAttrs::default());
    rw.insert(
        node,
        true,
        &format!("{label}_reshape"),
        reshape,
        vec![Some(flat_out), Some(shape)],
        vec![Some(y)],
    );
    a.set("axis", AttrValue::Int(1));
    Ok(())
}

/// Opset 11 added the `roi` input and coordinate modes; Resize-10 behaves
/// as `asymmetric` with `floor` rounding for nearest.
pub(crate) fn resize_roi(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let inputs = rw.graph.node(node).inputs.clone();
    if inputs.len() != 2 {
        return Err(format!(
            "Resize-10 takes 2 inputs, this node has {}",
            inputs.len()
        ));
    }
    let base = format!("{}_roi", rw.node_label(node));
    let roi = rw.constant(&base, Tensor::from_f32(vec![0], vec![]));
    rw.graph.node_mut(node).inputs = vec![inputs[0], Some(roi), inputs[1]];
    if !a.has("coordinate_transformation_mode") {
        a.set(
            "coordinate_transformation_mode",
            AttrValue::String("asymmetric".into()),
        );
    }
    let nearest = a.string("mode").is_none_or(|m| m == "nearest");
    if nearest && !a.has("nearest_mode") {
        a.set("nearest_mode", AttrValue::String("floor".into()));
    }
    Ok(())
}

pub(crate) fn resize_13(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if a.string("coordinate_transformation_mode").as_deref() == Some("tf_half_pixel_for_nn") {
        return Err(
            "coordinate_transformation_mode `tf_half_pixel_for_nn` was removed at opset 13".into(),
        );
    }
    Ok(())
}

/// Opset 7 replaced `height_scale`/`width_scale` by `scales`.
pub(crate) fn upsample_7(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let h = a.remove("height_scale");
    let w = a.remove("width_scale");
    match (h, w) {
        (None, None) => {}
        (Some(AttrValue::Float(h)), Some(AttrValue::Float(w))) => {
            a.set("scales", AttrValue::Floats(vec![1.0, 1.0, h, w]));
        }
        _ => return Err("Upsample-1 needs both float `height_scale` and `width_scale`".into()),
    }
    if a.string("mode").as_deref() == Some("bilinear") {
        a.set("mode", AttrValue::String("linear".into()));
    }
    Ok(())
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

/// Upsample was deprecated at opset 10 in favour of Resize-10, which takes
/// the same inputs and `mode`.
pub(crate) fn upsample_to_resize(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let mode = a.remove("mode");
    if let Some(other) = a.names().first() {
        return Err(format!("Upsample attribute `{other}` has no Resize form"));
    }
    a.op_type = "Resize".to_string();
    if let Some(mode) = mode {
        a.set("mode", mode);
    }
    Ok(())
}

pub(crate) fn scatter_to_elements(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    a.op_type = "ScatterElements".to_string();
    Ok(())
}

pub(crate) fn tile_repeats(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    _: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if rw.graph.node(node).inputs.len() > 2 {
        return Err("Tile-1's `tiles`/`axis` inputs have no opset-6 form here".into());
    }
    Ok(())
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

pub(crate) fn lp_pool_p(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.get("p") {
        Some(AttrValue::Float(p)) if p.fract() == 0.0 => {
            a.set("p", AttrValue::Int(p as i64));
            Ok(())
        }
        Some(AttrValue::Float(p)) => Err(format!("p={p} is not an integer")),
        _ => Ok(()),
    }
}

pub(crate) fn rnn_output_sequence(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if a.has("output_sequence") {
        return Err("attribute `output_sequence` was removed at opset 7".into());
    }
    Ok(())
}

/// Opset 16 added `coordinate_transformation_mode` with a new default; the
/// old behaviour is `output_half_pixel`.
pub(crate) fn roi_align_mode(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if !a.has("coordinate_transformation_mode") {
        a.set(
            "coordinate_transformation_mode",
            AttrValue::String("output_half_pixel".into()),
        );
    }
    Ok(())
}

pub(crate) fn grid_sample_mode(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let renamed = match a.string("mode").as_deref() {
        Some("bilinear") => "linear",
        Some("bicubic") => "cubic",
        _ => return Ok(()),
    };
    a.set("mode", AttrValue::String(renamed.to_string()));
    Ok(())
}

//! Adapters for changes of meaning: Softmax-family axis coercion (13),
//! Resize's coordinate modes (11, 13), Upsample to Resize (10), Scatter to
//! ScatterElements (11), RoiAlign's and GridSample's modes (16, 20), Split's
//! num_outputs (18), GroupNormalization's per-channel scale and bias (21).

use super::Outcome;
use crate::opset::edit::{NodeAttrs, Rewriter};
use crate::opset::infer::Facts;
use wdq_ir::op::{AxisAttrs, ReshapeAttrs, ShapeAttrs};
use wdq_ir::{AttrValue, NodeId, Op, Tensor, ValueDef};

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
    let label = rw.graph.node_label(node);
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
    let base = format!("{}_roi", rw.graph.node_label(node));
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

/// GridSample's `mode` names before opset 20 and from it: the one table
/// both conversion directions read.
pub(crate) const GRID_SAMPLE_MODES: [(&str, &str); 2] =
    [("bilinear", "linear"), ("bicubic", "cubic")];

/// Renames GridSample's `mode` by the pairs `(from, to)`.
pub(crate) fn rename_grid_sample_mode(
    a: &mut NodeAttrs,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
) {
    let mode = a.string("mode");
    if let Some((_, to)) = pairs
        .into_iter()
        .find(|(from, _)| mode.as_deref() == Some(*from))
    {
        a.set("mode", AttrValue::String(to.to_string()));
    }
}

pub(crate) fn grid_sample_mode(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    rename_grid_sample_mode(a, GRID_SAMPLE_MODES.into_iter());
    Ok(())
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

/// Opset 21 made GroupNormalization's scale and bias per channel; a
/// per-group vector `v` becomes `Reshape(Expand(Unsqueeze(v, 1), [G, C/G]),
/// [-1])`, with C read from the input's shape at run time.
pub(crate) fn group_norm_per_channel(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let groups = a
        .int("num_groups")
        .ok_or("GroupNormalization has no int `num_groups`")?;
    let x = rw
        .graph
        .node(node)
        .input(0)
        .ok_or("the node has no input")?;
    let label = rw.graph.node_label(node);
    let ints = |v: Vec<i64>| Tensor::from_i64(vec![v.len()], v);
    let g = rw.constant(&format!("{label}_groups"), ints(vec![groups]));
    let one = rw.constant(&format!("{label}_axis1"), ints(vec![1]));
    let flat = rw.constant(&format!("{label}_flat"), ints(vec![-1]));
    let channel_dim = NodeAttrs::new("Shape")
        .with("start", AttrValue::Int(1))
        .with("end", AttrValue::Int(2));
    let c = rw.op_before(
        node,
        &format!("{label}_channels"),
        channel_dim,
        vec![Some(x)],
    );
    let per_group = rw.step_before(node, &label, "per_group", "Div", &[c, g]);
    let grid = NodeAttrs::new("Concat").with("axis", AttrValue::Int(0));
    let grid = rw.op_before(
        node,
        &format!("{label}_grid"),
        grid,
        vec![Some(g), Some(per_group)],
    );
    for slot in [1, 2] {
        let v = rw
            .graph
            .node(node)
            .input(slot)
            .ok_or_else(|| format!("the node has no input {slot}"))?;
        let name = format!("{label}_in{slot}");
        let column = rw.op_before(
            node,
            &format!("{name}_column"),
            NodeAttrs::new("Unsqueeze"),
            vec![Some(v), Some(one)],
        );
        let spread = rw.op_before(
            node,
            &format!("{name}_spread"),
            NodeAttrs::new("Expand"),
            vec![Some(column), Some(grid)],
        );
        let channels = rw.op_before(
            node,
            &format!("{name}_per_channel"),
            NodeAttrs::new("Reshape"),
            vec![Some(spread), Some(flat)],
        );
        rw.set_input(node, slot, Some(channels));
    }
    Ok(())
}

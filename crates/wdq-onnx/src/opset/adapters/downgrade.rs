//! Adapters that undo schema changes for a downgrade (to
//! [`crate::opset::steps::MIN_DOWN_TARGET`] at the lowest): inputs that go
//! back to attributes (the reductions' axes, 18), Split's `num_outputs`
//! (18), Reshape's `allowzero` (14), and modes the older schema lacks.

use super::semantics::{rename_grid_sample_mode, GRID_SAMPLE_MODES};
use super::Outcome;
use crate::opset::edit::{NodeAttrs, Rewriter};
use crate::opset::infer::Facts;
use crate::opset::steps::Older;
use wdq_ir::{AttrValue, Dim, NodeId, Tensor};

/// Drops the attributes a change added when each holds its older value.
pub(crate) fn drop_older(a: &mut NodeAttrs, added: &[(&str, Older)], version: i64) -> Outcome {
    for (attr, older) in added {
        let Some(value) = a.get(attr) else {
            if a.has(attr) {
                return Err(format!("attribute `{attr}` cannot be read"));
            }
            continue;
        };
        let keeps_meaning = match (older, &value) {
            (Older::Int(i), AttrValue::Int(v)) => v == i,
            (Older::Str(s), AttrValue::String(v)) => v == s,
            (Older::Ones, AttrValue::Ints(v)) => v.iter().all(|&d| d == 1),
            _ => false,
        };
        if !keeps_meaning {
            return Err(format!(
                "attribute `{attr}` = {value:?} has no form before opset {version}"
            ));
        }
        a.remove(attr);
    }
    Ok(())
}

/// The constant integers behind input `slot` of `node`.
fn const_ints(rw: &Rewriter, node: NodeId, slot: usize, what: &str) -> Result<Vec<i64>, String> {
    let v = rw
        .graph
        .node(node)
        .input(slot)
        .ok_or_else(|| format!("the node has no {what} input"))?;
    let (_, t) = rw.graph.resolve_const(v).ok_or_else(|| {
        format!(
            "the {what} input `{}` is not a constant, so it cannot become an attribute",
            rw.graph.value(v).name
        )
    })?;
    t.to_i64_vec()
        .ok_or_else(|| format!("the {what} input is not an integer tensor"))
}

/// Opset 18 moved the reductions' `axes` to an input and added
/// `noop_with_empty_axes`; back to the attribute when the axes are constant.
pub(crate) fn axes_attribute(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let axes = match rw.graph.node(node).input(1) {
        Some(_) => const_ints(rw, node, 1, "axes")?,
        None => Vec::new(),
    };
    if a.int("noop_with_empty_axes").unwrap_or(0) != 0 && axes.is_empty() {
        return Err("noop_with_empty_axes = 1 without axes has no form before opset 18".into());
    }
    a.remove("noop_with_empty_axes");
    rw.graph.node_mut(node).inputs.truncate(1);
    if !axes.is_empty() {
        a.set("axes", AttrValue::Ints(axes));
    }
    Ok(())
}

/// Opset 18 added `num_outputs` (the last part smaller when the axis does
/// not divide evenly); Split-13 without `split` makes equal parts, so an
/// uneven split of a known dimension gets its sizes spelled out.
pub(crate) fn split_drop_num_outputs(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let Some(n) = a.int("num_outputs") else {
        return Ok(());
    };
    a.remove("num_outputs");
    let outputs = rw.graph.node(node).outputs.len() as i64;
    if n != outputs || n <= 0 {
        return Err(format!(
            "num_outputs = {n} but the node has {outputs} outputs"
        ));
    }
    if rw.graph.node(node).input(1).is_some() {
        return Ok(());
    }
    let x = rw
        .graph
        .node(node)
        .input(0)
        .ok_or("the node has no input")?;
    let axis = a.int("axis").unwrap_or(0);
    let dim = rw.graph.value(x).ty.as_ref().and_then(|t| {
        let shape = t.shape.as_ref()?;
        let at = if axis < 0 {
            axis + shape.len() as i64
        } else {
            axis
        };
        match shape.get(usize::try_from(at).ok()?)? {
            Dim::Known(d) => Some(*d as i64),
            _ => None,
        }
    });
    if let Some(d) = dim.filter(|d| d % n != 0) {
        let part = (d + n - 1) / n;
        let sizes: Vec<i64> = (0..n).map(|i| part.min(d - i * part).max(0)).collect();
        let base = format!("{}_split", rw.graph.node_label(node));
        let value = rw.constant(&base, Tensor::from_i64(vec![sizes.len()], sizes));
        rw.set_input(node, 1, Some(value));
    }
    Ok(())
}

/// Opset 14 added `allowzero`; with it set, a 0 in the shape means a zero
/// dimension instead of "copy", so it drops only when the shape is a
/// constant without zeros.
pub(crate) fn reshape_drop_allowzero(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if a.int("allowzero").unwrap_or(0) != 0 && const_ints(rw, node, 1, "shape")?.contains(&0) {
        return Err("allowzero = 1 with a 0 in the shape has no form before opset 14".into());
    }
    a.remove("allowzero");
    Ok(())
}

pub(crate) fn pad_no_axes(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    _: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if rw.graph.node(node).input(3).is_some() {
        return Err("Pad's `axes` input has no form before opset 18".into());
    }
    Ok(())
}

/// RoiAlign before opset 16 always used `output_half_pixel`.
pub(crate) fn roi_align_old_mode(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.string("coordinate_transformation_mode").as_deref() {
        Some("output_half_pixel") => {
            a.remove("coordinate_transformation_mode");
            Ok(())
        }
        mode => Err(format!(
            "coordinate_transformation_mode {} has no form before opset 16",
            mode.unwrap_or("half_pixel (the default)")
        )),
    }
}

/// GridSample's modes were named `bilinear` and `bicubic` before opset 20.
pub(crate) fn grid_sample_old_mode(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    rename_grid_sample_mode(
        a,
        GRID_SAMPLE_MODES.into_iter().map(|(old, new)| (new, old)),
    );
    Ok(())
}

/// Values of existing attributes that a version added: Resize's
/// `half_pixel_symmetric` (19), the scatters' `max`/`min` reductions (18).
pub(crate) fn mode_known_before(
    _: &mut Rewriter,
    _: &Facts,
    _: NodeId,
    a: &mut NodeAttrs,
    version: i64,
) -> Outcome {
    let (attr, new): (&str, &[&str]) = match a.op_type.as_str() {
        "Resize" => ("coordinate_transformation_mode", &["half_pixel_symmetric"]),
        _ => ("reduction", &["max", "min"]),
    };
    match a.string(attr) {
        Some(v) if new.contains(&v.as_str()) => Err(format!(
            "attribute `{attr}` = {v} has no form before opset {version}"
        )),
        _ => Ok(()),
    }
}

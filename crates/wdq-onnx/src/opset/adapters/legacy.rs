//! Adapters for attributes that were removed or renamed, and input forms
//! that changed, in the early opsets (up to 10).

use super::Outcome;
use crate::opset::edit::{NodeAttrs, Rewriter};
use crate::opset::infer::Facts;
use wdq_ir::op::AxesAttrs;
use wdq_ir::{AttrValue, DType, NodeId, Op, ValueDef};

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
/// agrees with the old suffix broadcasting when no `axis` is given. With
/// an `axis`, B's dims line up with A's from `axis` on: B gains trailing
/// unit axes (an Unsqueeze before the node) so that numpy broadcasting
/// lines them up the same way. That needs the ranks of A and B.
pub(crate) fn legacy_broadcast(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    let axis = a.int("axis");
    let broadcast = a.int("broadcast").unwrap_or(0) != 0;
    a.remove("broadcast");
    a.remove("axis");
    let Some(axis) = axis.filter(|_| broadcast) else {
        return Ok(());
    };
    let inputs = &rw.graph.node(node).inputs;
    let (Some(lhs), Some(rhs)) = (
        inputs.first().copied().flatten(),
        inputs.get(1).copied().flatten(),
    ) else {
        return Err("legacy broadcasting needs two inputs".into());
    };
    let (Some(rank_a), Some(rank_b)) = (facts.rank(lhs), facts.rank(rhs)) else {
        return Err(
            "legacy broadcasting with an explicit `axis` needs the ranks of both inputs".into(),
        );
    };
    let start = if axis < 0 { axis + rank_a as i64 } else { axis };
    let trailing = rank_a as i64 - start - rank_b as i64;
    if start < 0 || trailing < 0 {
        return Err(format!(
            "B of rank {rank_b} does not fit A of rank {rank_a} from axis {axis}"
        ));
    }
    if trailing > 0 {
        let axes: Vec<i64> = (rank_b as i64..rank_b as i64 + trailing).collect();
        let label = rw.graph.node_label(node);
        let out = rw.value(&format!("{label}_aligned"));
        let unsqueeze = Op::Unsqueeze(AxesAttrs { axes: Some(axes) });
        rw.insert(
            node,
            false,
            &format!("{label}_align"),
            unsqueeze,
            vec![Some(rhs)],
            vec![Some(out)],
        );
        rw.set_input(node, 1, Some(out));
    }
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

//! The float value of a constant layer operand, wherever it is stored: an
//! initializer, a `Constant` node, either behind `Identity` nodes, or the
//! integer constant behind a `DequantizeLinear` of an already quantized
//! model (dequantized here with `wdq_quant`'s arithmetic).
//!
//! A failed resolution is a reason (a sentence), not an error: the layer is
//! then skipped, not the whole lowering.

use std::sync::Arc;
use wdq_ir::op::QdqAttrs;
use wdq_ir::{Graph, NodeId, Op, Tensor, ValueDef, ValueId};
use wdq_quant::linear::dequantize_value;

/// A constant operand, as floats.
#[derive(Clone, Debug)]
pub(crate) struct FloatConst {
    /// Row-major values.
    pub values: Vec<f32>,
    pub shape: Vec<usize>,
    /// Base of the names of the tensors and nodes that replace it.
    pub base: String,
    /// The `Identity`, `Constant` and `DequantizeLinear` nodes between the
    /// layer input and the stored tensors, which may die once it is replaced.
    pub chain: Vec<NodeId>,
}

/// The float value of `value`, or why there is none.
pub(crate) fn resolve_float(graph: &Graph, value: ValueId) -> Result<FloatConst, String> {
    if let Some((tensor, chain)) = const_chain(graph, value) {
        if !tensor.dtype().is_float() {
            return Err(format!(
                "constant of element type {} is not float",
                tensor.dtype()
            ));
        }
        let values = tensor
            .to_f32_vec()
            .ok_or_else(|| format!("element type {} is not supported", tensor.dtype()))?;
        return Ok(FloatConst {
            values,
            shape: tensor.shape().to_vec(),
            base: graph.value(value).name.clone(),
            chain,
        });
    }
    let ValueDef::Node { node, .. } = graph.value(value).def else {
        return Err("not a constant".into());
    };
    match &graph.node(node).op {
        Op::DequantizeLinear(attrs) => dequantize_const(graph, node, attrs),
        _ => Err("not a constant".into()),
    }
}

/// The tensor behind `value` (through `Identity` and `Constant` nodes) and
/// the nodes on the way.
pub(crate) fn const_chain(graph: &Graph, value: ValueId) -> Option<(Arc<Tensor>, Vec<NodeId>)> {
    let (_, tensor) = graph.resolve_const(value)?;
    let mut chain = Vec::new();
    let mut current = value;
    while let ValueDef::Node { node, .. } = graph.value(current).def {
        chain.push(node);
        match graph.node(node).op {
            Op::Identity => match graph.node(node).input(0) {
                Some(next) => current = next,
                None => break,
            },
            _ => break,
        }
    }
    Some((tensor, chain))
}

/// The per-tensor scale of a `DequantizeLinear` whose scale is a constant
/// scalar (or one-element tensor): the scale of an activation that an
/// already quantized model dequantizes.
pub(crate) fn dequantize_scale(graph: &Graph, value: ValueId) -> Option<f32> {
    let ValueDef::Node { node, .. } = graph.value(value).def else {
        return None;
    };
    if !matches!(graph.node(node).op, Op::DequantizeLinear(_)) {
        return None;
    }
    let (scale, _) = const_chain(graph, graph.node(node).input(1)?)?;
    match scale.to_f32_vec()?.as_slice() {
        [s] => Some(*s),
        _ => None,
    }
}

/// `DequantizeLinear(x, scale, zero_point)` of constants, computed.
fn dequantize_const(graph: &Graph, node: NodeId, attrs: &QdqAttrs) -> Result<FloatConst, String> {
    let dq = graph.node(node);
    let operand = |slot: usize| dq.input(slot).and_then(|v| const_chain(graph, v));
    let Some(x_value) = dq.input(0) else {
        return Err("DequantizeLinear without input".into());
    };
    let (Some((x, x_chain)), Some((scale, scale_chain))) = (operand(0), operand(1)) else {
        return Err("DequantizeLinear of a non-constant".into());
    };
    if attrs.block_size.unwrap_or(0) != 0 {
        return Err("blocked DequantizeLinear is not supported".into());
    }
    let codes = x
        .to_i64_vec()
        .ok_or_else(|| format!("DequantizeLinear of element type {}", x.dtype()))?;
    let scales = scale
        .to_f32_vec()
        .ok_or_else(|| "DequantizeLinear scale is not float".to_string())?;
    let (zero_points, zp_chain) = match operand(2) {
        Some((zp, chain)) => (
            zp.to_i64_vec()
                .ok_or_else(|| "DequantizeLinear zero point is not integer".to_string())?,
            chain,
        ),
        None => (vec![0; scales.len()], Vec::new()),
    };
    if zero_points.len() != scales.len() || scales.is_empty() {
        return Err("DequantizeLinear scale and zero point differ in length".into());
    }
    let shape = x.shape().to_vec();
    let (inner, channels) = if scales.len() == 1 {
        (1, 1)
    } else {
        let rank = shape.len() as i64;
        let axis = attrs.axis.unwrap_or(1);
        let axis = if axis < 0 { axis + rank } else { axis };
        match usize::try_from(axis).ok().filter(|&a| a < shape.len()) {
            Some(a) if shape[a] == scales.len() => (shape[a + 1..].iter().product(), shape[a]),
            _ => return Err("DequantizeLinear scales do not match its axis".into()),
        }
    };
    let values = codes
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let c = (i / inner.max(1)) % channels;
            let q = i32::try_from(q).unwrap_or(if q < 0 { i32::MIN } else { i32::MAX });
            let zp = i32::try_from(zero_points[c]).unwrap_or(0);
            dequantize_value(q, scales[c], zp)
        })
        .collect();
    let stored = &graph.value(x_value).name;
    let base = stored
        .strip_suffix("_quantized")
        .unwrap_or(stored)
        .to_string();
    let mut chain = vec![node];
    chain.extend(x_chain);
    chain.extend(scale_chain);
    chain.extend(zp_chain);
    Ok(FloatConst {
        values,
        shape,
        base,
        chain,
    })
}

//! Trainable parameters: which constants are trained, and how each becomes
//! a graph input (with its current value as the default).
//!
//! A float initializer becomes an input in place (same value, same name). A
//! `Constant` node's output becomes an initializer-backed input (the node
//! leaves the order). A quantized weight behind a `DequantizeLinear` is
//! trained in float: the parameter is `DQ(q)` computed once, and a
//! `QuantizeLinear` with the same scale and zero point is inserted before
//! the `DequantizeLinear` (fake-quant in the loop, straight-through
//! gradient). An int32 quantized bias is replaced by its float value.

use crate::builder::Builder;
use crate::AutodiffError;
use std::sync::Arc;
use wdq_ir::op::QdqAttrs;
use wdq_ir::{DType, Graph, NodeId, Op, Tensor, TensorData, TensorType, ValueDef, ValueId};

/// A parameter found in the forward graph.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    /// The forward value consumed by the model (initializer or Constant output,
    /// or the `DequantizeLinear` output for quantized weights).
    pub at: ValueId,
    /// The stored constant's name in the forward model.
    pub name: String,
    pub layer: Option<NodeId>,
    pub is_bias: bool,
    /// The `DequantizeLinear` in front of the stored constant, if any.
    pub dequantize: Option<NodeId>,
}

/// The parameter behind `value`, looking through Identity / Constant and one
/// DequantizeLinear.
pub(crate) fn source(graph: &Graph, value: ValueId) -> Option<(ValueId, Option<NodeId>)> {
    if let Some((v, _)) = graph.resolve_const(value) {
        return Some((v, None));
    }
    let ValueDef::Node { node, .. } = graph.value(value).def else {
        return None;
    };
    match graph.node(node).op {
        Op::DequantizeLinear(_) => {
            let (v, _) = graph.resolve_const(graph.node(node).input(0)?)?;
            Some((v, Some(node)))
        }
        _ => None,
    }
}

fn dequantized(graph: &Graph, dq: NodeId, q: &Tensor, name: &str) -> Result<Tensor, AutodiffError> {
    let err = |why: &str| AutodiffError::Parameter {
        name: name.to_string(),
        why: why.to_string(),
    };
    let node = graph.node(dq);
    let scale = node
        .input(1)
        .and_then(|v| graph.resolve_const(v))
        .and_then(|(_, t)| t.to_f32_vec())
        .ok_or_else(|| err("the DequantizeLinear scale is not a constant"))?;
    let zero = match node.input(2) {
        None => vec![0; scale.len()],
        Some(v) => graph
            .resolve_const(v)
            .and_then(|(_, t)| t.to_i64_vec())
            .ok_or_else(|| err("the DequantizeLinear zero point is not a constant"))?,
    };
    let values = q
        .to_i64_vec()
        .ok_or_else(|| err("the quantized weight is not integer"))?;
    let shape = q.shape().to_vec();
    let (inner, len) = if scale.len() == 1 {
        (1, 1)
    } else {
        let Op::DequantizeLinear(a) = &node.op else {
            return Err(err("not a DequantizeLinear"));
        };
        let rank = shape.len() as i64;
        let axis = a.axis.unwrap_or(1);
        let axis = if axis < 0 { axis + rank } else { axis };
        let axis = usize::try_from(axis)
            .ok()
            .filter(|&x| x < shape.len() && shape[x] == scale.len())
            .ok_or_else(|| err("the per-axis scale does not fit the weight"))?;
        (shape[axis + 1..].iter().product(), shape[axis])
    };
    let out = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / inner.max(1)) % len.max(1);
            (v - zero.get(c).copied().unwrap_or(0)) as f32 * scale[c]
        })
        .collect();
    Ok(Tensor::from_f32(shape, out))
}

fn zero_point(dtype: DType, shape: &[usize]) -> Option<Tensor> {
    let n: usize = shape.iter().product();
    let data = match dtype {
        DType::I8 | DType::I4 => TensorData::I8(vec![0; n]),
        DType::U8 | DType::U4 => TensorData::U8(vec![0; n]),
        _ => return None,
    };
    Tensor::new(dtype, shape.to_vec(), data).ok()
}

/// Turns the parameter into a graph input; returns the value now carrying it.
pub(crate) fn make_input(b: &mut Builder<'_>, p: &Found) -> Result<ValueId, AutodiffError> {
    let err = |why: &str| AutodiffError::Parameter {
        name: p.name.clone(),
        why: why.to_string(),
    };
    let Some(dq) = p.dequantize else {
        let (_, tensor) = b
            .graph
            .resolve_const(p.at)
            .ok_or_else(|| err("not a constant"))?;
        if tensor.dtype() != DType::F32 {
            return Err(err(&format!(
                "element type {} cannot be trained",
                tensor.dtype()
            )));
        }
        if let ValueDef::Node { node, .. } = b.graph.value(p.at).def {
            b.graph.order.retain(|&n| n != node);
        }
        let value = b.graph.value_mut(p.at);
        value.def = ValueDef::Initializer(tensor.clone());
        value.ty = Some(TensorType::known(DType::F32, tensor.shape()));
        b.graph.inputs.push(p.at);
        return Ok(p.at);
    };
    let node = b.graph.node(dq).clone();
    let q_value = node
        .input(0)
        .ok_or_else(|| err("DequantizeLinear without input"))?;
    let (_, q) = b
        .graph
        .resolve_const(q_value)
        .ok_or_else(|| err("the quantized weight is not a constant"))?;
    let float = dequantized(b.graph, dq, &q, &p.name)?;
    let name = b.fresh(&format!("{}.float", p.name));
    let shape = float.shape().to_vec();
    let param = b.graph.add_value(
        name,
        Some(TensorType::known(DType::F32, &shape)),
        ValueDef::Initializer(Arc::new(float)),
    );
    b.graph.inputs.push(param);
    let Op::DequantizeLinear(attrs) = &node.op else {
        return Err(err("not a DequantizeLinear"));
    };
    let scale = node
        .input(1)
        .ok_or_else(|| err("DequantizeLinear without scale"))?;
    let scale_shape = b
        .graph
        .resolve_const(scale)
        .map(|(_, t)| t.shape().to_vec())
        .unwrap_or_default();
    let zp = match node.input(2) {
        Some(z) => Some(z),
        None => zero_point(q.dtype(), &scale_shape)
            .map(|t| b.constant(&format!("{}.zero_point", p.name), t)),
    };
    let dq_out = node
        .output(0)
        .ok_or_else(|| err("DequantizeLinear without output"))?;
    if zp.is_none() || !matches!(q.dtype(), DType::I8 | DType::U8 | DType::I4 | DType::U4) {
        // No fake-quant for this type (int32 biases): train the float value.
        b.graph.replace_uses(dq_out, param);
        b.graph.order.retain(|&n| n != dq);
        return Ok(param);
    }
    let q_attrs = QdqAttrs {
        axis: attrs.axis,
        saturate: None,
        block_size: None,
        output_dtype: None,
    };
    let q_name = b.fresh(&format!("{}.fake_quant", p.name));
    let qnode = b.graph.add_node(
        format!("{}/QuantizeLinear", p.name),
        Op::QuantizeLinear(q_attrs),
        vec![Some(param), Some(scale), zp],
        &[q_name.as_str()],
        Some(dq),
    );
    let q_out = b
        .graph
        .node(qnode)
        .output(0)
        .ok_or_else(|| err("no output"))?;
    let dq_node = b.graph.node_mut(dq);
    dq_node.inputs[0] = Some(q_out);
    if dq_node.inputs.len() > 2 {
        dq_node.inputs[2] = zp;
    } else {
        dq_node.inputs.push(zp);
    }
    Ok(param)
}

//! What import refuses beyond the protobuf's structure: opset versions no
//! ONNX release has, graph-input dimensions no memory can hold, duplicate
//! node names, and default-domain nodes with more or fewer inputs than
//! their schema allows (the counts come from `wdq_ir::meta_by_name`, the
//! one table of op arities), and constant quantization scales that are not
//! finite and non-zero (a damaged file, which would otherwise surface much
//! later as a training divergence).

use super::graph::node_label;
use crate::pb;
use crate::OnnxError;
use std::collections::HashSet;
use wdq_ir::{Dim, Graph, Op, OpsetId, TensorType};

/// The newest default-domain opset of any ONNX release known (onnx 1.23
/// defines 28); a later one is refused rather than read with the wrong
/// semantics.
pub const NEWEST_KNOWN_OPSET: i64 = 28;

/// The largest graph-input dimension accepted (2^31 - 1, the largest any
/// runtime indexes with 32 bits).
pub const MAX_INPUT_DIM: usize = i32::MAX as usize;

fn is_default(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// Every opset version is at least 1, and the default domain's is one an
/// ONNX release defines.
pub(super) fn opsets(opsets: &[OpsetId]) -> Result<(), OnnxError> {
    for o in opsets {
        let newest = if is_default(&o.domain) {
            NEWEST_KNOWN_OPSET
        } else {
            i64::from(i32::MAX)
        };
        if !(1..=newest).contains(&o.version) {
            let domain = if o.domain.is_empty() {
                "ai.onnx"
            } else {
                &o.domain
            };
            return Err(OnnxError::BadOpset {
                domain: domain.to_string(),
                version: o.version,
                why: format!("opset versions run from 1 to {newest}"),
            });
        }
    }
    Ok(())
}

/// A graph input's known dimensions are at most [`MAX_INPUT_DIM`]. (A
/// dimension of 0 is valid ONNX, an empty input; data for it is refused
/// where data meets the model.)
pub(super) fn input_dims(name: &str, ty: Option<&TensorType>) -> Result<(), OnnxError> {
    let Some(shape) = ty.and_then(|t| t.shape.as_ref()) else {
        return Ok(());
    };
    for (axis, dim) in shape.iter().enumerate() {
        if let Dim::Known(d) = dim {
            if *d > MAX_INPUT_DIM {
                return Err(OnnxError::BadType {
                    value: name.to_string(),
                    why: format!(
                        "graph input dimension {axis} is declared {d}; an input dimension must be at most {MAX_INPUT_DIM}"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Node names are unique (when given), and a default-domain node's input
/// count (trailing empty names are absent optional inputs) fits its op.
pub(crate) fn nodes(nodes: &[pb::NodeProto]) -> Result<(), OnnxError> {
    let mut names = HashSet::new();
    for (index, node) in nodes.iter().enumerate() {
        let name = node.name.as_deref().unwrap_or_default();
        if !name.is_empty() && !names.insert(name) {
            return Err(OnnxError::BadNode {
                node: name.to_string(),
                why: "the name is used twice; node names must be unique".to_string(),
            });
        }
        if !is_default(node.domain.as_deref().unwrap_or_default()) {
            continue;
        }
        let op = node.op_type.as_deref().unwrap_or_default();
        let Some(meta) = wdq_ir::meta_by_name(op) else {
            continue;
        };
        let given = node
            .input
            .iter()
            .rposition(|i| !i.is_empty())
            .map_or(0, |p| p + 1);
        if !meta.inputs.allows(given) {
            let range = if meta.inputs.max == wdq_ir::Arity::VARIADIC {
                format!("at least {}", meta.inputs.min)
            } else if meta.inputs.min == meta.inputs.max {
                meta.inputs.min.to_string()
            } else {
                format!("{} to {}", meta.inputs.min, meta.inputs.max)
            };
            return Err(OnnxError::BadNode {
                node: node_label(node, index),
                why: format!("{op} takes {range} inputs, the node has {given}"),
            });
        }
    }
    Ok(())
}

/// Every constant scale of a QuantizeLinear or DequantizeLinear node is
/// finite and non-zero.
pub(super) fn quantization_scales(graph: &Graph) -> Result<(), OnnxError> {
    for (id, node) in graph.live_nodes() {
        if !matches!(node.op, Op::QuantizeLinear(_) | Op::DequantizeLinear(_)) {
            continue;
        }
        let Some((scale, tensor)) = node.input(1).and_then(|v| graph.resolve_const(v)) else {
            continue;
        };
        let Some(values) = tensor.to_f32_vec() else {
            continue;
        };
        if let Some(bad) = values.iter().find(|v| !v.is_finite() || **v == 0.0) {
            return Err(OnnxError::BadNode {
                node: graph.node_label(id),
                why: format!(
                    "{} scale `{}` holds {bad}; a quantization scale must be finite and non-zero: the model file is damaged (repair or re-export it)",
                    node.op.op_type(),
                    graph.value(scale).name
                ),
            });
        }
    }
    Ok(())
}

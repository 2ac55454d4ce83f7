//! Static shape and type inference: fills `value.ty` with fully known
//! shapes for every value whose shape follows from the graph input shapes.
//!
//! One forward sweep over the live nodes in order keeps a fact per value
//! (element type, shape, and the constant value when it is one). Constant
//! values come from initializers that are not graph inputs, `Constant`
//! nodes, `Shape` of a known shape, and any node whose inputs are all
//! constant and whose output is small (computed by the kernel itself), so
//! that shape sub-graphs (Shape -> Gather -> Concat -> Reshape) resolve.
//! Opaque ops leave their outputs as the model declares them (usually
//! unknown), and so does everything that needs an unknown shape downstream;
//! only contradictions are errors.

mod nn_rules;
pub(crate) mod rules;

use crate::{KernelError, TensorValue};
use std::collections::HashMap;
use std::sync::Arc;
use wdq_ir::{DType, Dim, Model, Op, TensorType, ValueDef, ValueId};

/// What inference knows about one value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fact {
    pub dtype: Option<DType>,
    pub shape: Option<Vec<usize>>,
    pub value: Option<Arc<TensorValue>>,
}

/// One input of a node as a rule sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand<'a> {
    /// Whether the optional input is given at all.
    pub present: bool,
    pub dtype: Option<DType>,
    pub shape: Option<&'a [usize]>,
    pub value: Option<&'a TensorValue>,
}

/// What [`infer_shapes`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InferSummary {
    /// Values whose type now has a fully known shape.
    pub typed: usize,
    /// Node outputs left with an unknown shape (opaque ops and what follows them).
    pub unknown: Vec<String>,
    /// Node outputs whose value inference computed as a constant.
    pub constants: usize,
}

/// Why shape inference failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InferError {
    #[error("a shape was given for `{name}`, which is not a graph input")]
    NotAnInput { name: String },
    #[error("graph input `{name}`: shape {given:?} contradicts the declared shape {declared:?}")]
    InputShape {
        name: String,
        given: Vec<usize>,
        declared: Vec<Dim>,
    },
    #[error("node `{node}` ({op}): {source}")]
    Node {
        node: String,
        op: String,
        source: KernelError,
    },
}

/// Infers shapes and element types of every value of `model` and writes
/// them (all dimensions known) into `value.ty`. Graph input shapes come from
/// `input_shapes` (by name), else from their declared types when fully known.
///
/// # Errors
/// [`InferError`] for a shape given for a non-input, a given shape that
/// contradicts a declared one, or a node whose operands contradict its op.
pub fn infer_shapes(
    model: &mut Model,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<InferSummary, InferError> {
    let facts = infer_facts(model, input_shapes)?;
    Ok(write_types(model, &facts))
}

/// Runs inference and returns the fact per value (indexed by `ValueId`).
pub(crate) fn infer_facts(
    model: &Model,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<Vec<Fact>, InferError> {
    let graph = &model.graph;
    let opset = model.default_opset().unwrap_or(21);
    let mut facts = vec![Fact::default(); graph.values.len()];
    let given: HashMap<&str, &Vec<usize>> =
        input_shapes.iter().map(|(n, s)| (n.as_str(), s)).collect();
    for name in given.keys() {
        if !graph.inputs.iter().any(|&i| graph.value(i).name == *name) {
            return Err(InferError::NotAnInput {
                name: name.to_string(),
            });
        }
    }
    for (i, value) in graph.values.iter().enumerate() {
        let id = ValueId(i as u32);
        let declared = value.ty.as_ref();
        match &value.def {
            ValueDef::Initializer(t) if !graph.inputs.contains(&id) => {
                facts[i] = if t.len() <= rules::VALUE_LIMIT {
                    match TensorValue::from_tensor(t) {
                        Ok(v) => Fact::constant(v),
                        Err(_) => Fact::new(Some(t.dtype()), Some(t.shape().to_vec())),
                    }
                } else {
                    Fact::new(Some(t.dtype()), Some(t.shape().to_vec()))
                };
            }
            ValueDef::Initializer(_) | ValueDef::Input => {
                let dtype = declared.map(|t| t.dtype).or(match &value.def {
                    ValueDef::Initializer(t) => Some(t.dtype()),
                    _ => None,
                });
                let shape = match given.get(value.name.as_str()) {
                    Some(&s) => {
                        check_given(&value.name, s, declared)?;
                        Some(s.clone())
                    }
                    None => declared
                        .and_then(TensorType::concrete_shape)
                        .or(match &value.def {
                            ValueDef::Initializer(t) => Some(t.shape().to_vec()),
                            _ => None,
                        }),
                };
                facts[i] = Fact::new(dtype, shape);
            }
            ValueDef::Node { .. } => {}
        }
    }
    for (_, node) in graph.live_nodes() {
        let n_out = node.outputs.len();
        let operands: Vec<Operand<'_>> = node
            .inputs
            .iter()
            .map(|input| match input {
                Some(v) => {
                    let f = &facts[v.index()];
                    Operand {
                        present: true,
                        dtype: f.dtype,
                        shape: f.shape.as_deref(),
                        value: f.value.as_deref(),
                    }
                }
                None => Operand {
                    present: false,
                    dtype: None,
                    shape: None,
                    value: None,
                },
            })
            .collect();
        let named = |source: KernelError| InferError::Node {
            node: node.name.clone(),
            op: node.op.op_type().to_string(),
            source,
        };
        let mut out = if matches!(node.op, Op::Opaque { .. }) {
            // What the model declares (value_info) is all there is to know.
            node.outputs
                .iter()
                .map(|o| {
                    let ty = o.and_then(|v| graph.value(v).ty.as_ref());
                    Fact::new(ty.map(|t| t.dtype), ty.and_then(TensorType::concrete_shape))
                })
                .collect()
        } else {
            match rules::node_facts(&node.op, opset, &operands, n_out) {
                Ok(facts) => facts,
                // A form the rules do not model (an exotic dtype or mode)
                // leaves the outputs unknown rather than failing.
                Err(KernelError::Unsupported(_)) => Vec::new(),
                Err(e) => return Err(named(e)),
            }
        };
        if should_evaluate(&node.op, &operands, &out) {
            let inputs: Vec<Option<&TensorValue>> = operands.iter().map(|o| o.value).collect();
            match rules::evaluate(&node.op, opset, &inputs, n_out) {
                Ok(values) => out = values,
                Err(KernelError::Unsupported(_)) => {}
                Err(e) => return Err(named(e)),
            }
        }
        for (slot, output) in node.outputs.iter().enumerate() {
            if let (Some(v), Some(f)) = (output, out.get_mut(slot)) {
                facts[v.index()] = std::mem::take(f);
            }
        }
    }
    Ok(facts)
}

/// Whether to compute a node's outputs by running its kernel: every present
/// input is a known constant, the rule knows every output shape, and the
/// outputs are small.
fn should_evaluate(op: &Op, operands: &[Operand<'_>], out: &[Fact]) -> bool {
    if matches!(op, Op::Opaque { .. } | Op::Constant(_)) || operands.iter().all(|o| !o.present) {
        return false;
    }
    let inputs_known = operands.iter().all(|o| !o.present || o.value.is_some());
    let small = !out.is_empty()
        && out.iter().all(|f| {
            f.value.is_none()
                && f.shape.as_ref().is_some_and(|s| {
                    s.iter()
                        .try_fold(1usize, |a, &d| a.checked_mul(d))
                        .is_some_and(|n| n <= rules::VALUE_LIMIT)
                })
        });
    inputs_known && small
}

fn check_given(
    name: &str,
    given: &[usize],
    declared: Option<&TensorType>,
) -> Result<(), InferError> {
    let Some(dims) = declared.and_then(|t| t.shape.as_ref()) else {
        return Ok(());
    };
    let fits = dims.len() == given.len()
        && dims.iter().zip(given).all(|(d, &g)| match d {
            Dim::Known(k) => *k == g,
            _ => true,
        });
    if fits {
        Ok(())
    } else {
        Err(InferError::InputShape {
            name: name.to_string(),
            given: given.to_vec(),
            declared: dims.clone(),
        })
    }
}

/// Writes the inferred types into the graph.
pub(crate) fn write_types(model: &mut Model, facts: &[Fact]) -> InferSummary {
    let mut summary = InferSummary::default();
    let mut live_output = vec![false; facts.len()];
    for (_, node) in model.graph.live_nodes() {
        for v in node.outputs.iter().flatten() {
            live_output[v.index()] = true;
        }
    }
    for (i, fact) in facts.iter().enumerate() {
        let value = &mut model.graph.values[i];
        let is_node_output = live_output[i];
        match (fact.dtype, &fact.shape) {
            (Some(dtype), Some(shape)) => {
                value.ty = Some(TensorType::known(dtype, shape));
                summary.typed += 1;
            }
            (dtype, _) => {
                if let (Some(dtype), None) = (dtype, &value.ty) {
                    value.ty = Some(TensorType { dtype, shape: None });
                }
                if is_node_output {
                    summary.unknown.push(value.name.clone());
                }
            }
        }
        if is_node_output && fact.value.is_some() {
            summary.constants += 1;
        }
    }
    summary
}

//! A compiled schedule for running one model many times.
//!
//! [`Plan::new`] does the per-model work once: initializers and `Constant`
//! outputs become [`TensorValue`]s, each live node becomes a step with the
//! value slots it reads and writes, and a last-use table says after which
//! step each intermediate can be dropped. [`Plan::run`] then only moves
//! values between slots and calls [`crate::run_node`].
//!
//! Invariants: slots are value indices of the graph; a slot is read only
//! after the step that writes it (the graph order is topological); a slot
//! is released after its last reader unless it is a graph output or the
//! caller asked to keep it.

use crate::{run_node, ExecError, KernelContext, KernelError, TensorValue};
use std::collections::{HashMap, HashSet};
use wdq_ir::{constant_tensor, Model, Op, TensorType, ValueDef, ValueId};

/// Opset assumed when a model imports no default-domain opset.
const DEFAULT_OPSET: i64 = 13;

/// One graph input: where it goes, what it must look like, its default.
#[derive(Debug)]
struct InputSlot {
    name: String,
    slot: usize,
    ty: Option<TensorType>,
    default: Option<TensorValue>,
}

/// One node to run.
#[derive(Debug)]
struct Step {
    name: String,
    op: Op,
    inputs: Vec<Option<usize>>,
    outputs: Vec<Option<usize>>,
    /// Slots read for the last time by this step (or written and never read).
    release: Vec<usize>,
}

/// A model prepared for repeated execution. `Plan` is `Send + Sync`; runs
/// take `&self` and may proceed on several threads at once.
#[derive(Debug)]
pub struct Plan {
    opset: i64,
    slots: usize,
    constants: Vec<(usize, TensorValue)>,
    inputs: Vec<InputSlot>,
    outputs: Vec<(String, usize)>,
    steps: Vec<Step>,
    /// Whether a produced value is read later or is a graph output.
    needed: Vec<bool>,
}

/// What a slot holds while a run is in progress.
enum Slot<'a> {
    Empty,
    Shared(&'a TensorValue),
    Owned(TensorValue),
}

impl Slot<'_> {
    fn get(&self) -> Option<&TensorValue> {
        match self {
            Slot::Empty => None,
            Slot::Shared(v) => Some(v),
            Slot::Owned(v) => Some(v),
        }
    }
}

impl Plan {
    /// Prepares `model` for execution.
    ///
    /// # Errors
    /// [`ExecError::UnsupportedOp`] for an op the executor cannot run (opaque
    /// ops, sparse constants); [`ExecError::Constant`] for a constant of an
    /// element type the executor does not hold.
    pub fn new(model: &Model) -> Result<Plan, ExecError> {
        let graph = &model.graph;
        let slots = graph.values.len();
        let mut constants = Vec::new();
        let mut constant_nodes = Vec::new();
        let mut inputs = Vec::with_capacity(graph.inputs.len());
        for &id in &graph.inputs {
            let value = graph.value(id);
            let default = match &value.def {
                ValueDef::Initializer(t) => Some(TensorValue::from_tensor(t).map_err(
                    |source| ExecError::Constant {
                        name: value.name.clone(),
                        source,
                    },
                )?),
                _ => None,
            };
            inputs.push(InputSlot {
                name: value.name.clone(),
                slot: id.index(),
                ty: value.ty.clone(),
                default,
            });
        }
        let mut steps = Vec::new();
        for (id, node) in graph.live_nodes() {
            let name = graph.node_label(id);
            match &node.op {
                Op::Opaque {
                    domain, op_type, ..
                } => {
                    let op = if domain.is_empty() {
                        op_type.clone()
                    } else {
                        format!("{domain}::{op_type}")
                    };
                    return Err(ExecError::UnsupportedOp { node: name, op });
                }
                Op::Constant(attrs) => {
                    if let Some(out) = node.output(0) {
                        constant_nodes.push((out.index(), name, attrs));
                    }
                }
                op => steps.push(Step {
                    name,
                    op: op.clone(),
                    inputs: node.inputs.iter().map(|v| v.map(ValueId::index)).collect(),
                    outputs: node.outputs.iter().map(|v| v.map(ValueId::index)).collect(),
                    release: Vec::new(),
                }),
            }
        }
        let outputs: Vec<(String, usize)> = graph
            .outputs
            .iter()
            .map(|&id| (graph.value(id).name.clone(), id.index()))
            .collect();
        let is_output: HashSet<usize> = outputs.iter().map(|o| o.1).collect();
        // Constants nothing reads are not converted (they may hold types the
        // executor does not run).
        let read: HashSet<usize> = steps
            .iter()
            .flat_map(|s| s.inputs.iter().flatten().copied())
            .chain(is_output.iter().copied())
            .collect();
        for (slot, name, attrs) in constant_nodes {
            if !read.contains(&slot) {
                continue;
            }
            let tensor = constant_tensor(attrs).ok_or_else(|| ExecError::UnsupportedOp {
                node: name.clone(),
                op: "Constant (sparse or empty value)".into(),
            })?;
            let value = TensorValue::from_tensor(&tensor)
                .map_err(|source| ExecError::Constant { name, source })?;
            constants.push((slot, value));
        }
        for (i, value) in graph.values.iter().enumerate() {
            if let ValueDef::Initializer(t) = &value.def {
                if read.contains(&i) && !graph.inputs.contains(&ValueId(i as u32)) {
                    let v = TensorValue::from_tensor(t).map_err(|source| ExecError::Constant {
                        name: value.name.clone(),
                        source,
                    })?;
                    constants.push((i, v));
                }
            }
        }
        let is_constant: HashSet<usize> = constants.iter().map(|c| c.0).collect();
        let needed = schedule_releases(&mut steps, slots, &is_output, &is_constant);
        let opset = model.default_opset().unwrap_or(DEFAULT_OPSET);
        Ok(Plan {
            opset,
            slots,
            constants,
            inputs,
            outputs,
            steps,
            needed,
        })
    }

    /// Names of the graph inputs, in order (including those with defaults).
    pub fn input_names(&self) -> Vec<&str> {
        self.inputs.iter().map(|i| i.name.as_str()).collect()
    }

    /// Names of the graph outputs, in order.
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|o| o.0.as_str()).collect()
    }

    /// The default-domain opset the kernels see.
    pub fn opset(&self) -> i64 {
        self.opset
    }

    /// Runs the graph on named inputs; returns the graph outputs in order.
    /// Inputs that have an initializer default may be left out.
    ///
    /// # Errors
    /// [`ExecError::MissingGraphInput`] / [`ExecError::GraphInput`] for
    /// missing, unknown or mistyped inputs; [`ExecError::Kernel`] naming the
    /// node whose kernel failed.
    pub fn run(&self, inputs: &[(&str, TensorValue)]) -> Result<Vec<TensorValue>, ExecError> {
        self.run_with(inputs, &[]).map(|(outputs, _)| outputs)
    }

    /// Like [`Plan::run`], and also returns the values of `keep` (any graph
    /// values: intermediates, inputs, constants). Ids that hold no value
    /// (out of range, an optional output the kernel did not produce, or a
    /// constant that no node reads) are absent from the map.
    ///
    /// # Errors
    /// As [`Plan::run`].
    pub fn run_with(
        &self,
        inputs: &[(&str, TensorValue)],
        keep: &[ValueId],
    ) -> Result<(Vec<TensorValue>, HashMap<ValueId, TensorValue>), ExecError> {
        let mut values: Vec<Slot<'_>> = (0..self.slots).map(|_| Slot::Empty).collect();
        for (slot, v) in &self.constants {
            values[*slot] = Slot::Shared(v);
        }
        self.bind_inputs(inputs, &mut values)?;
        let mut kept = vec![false; self.slots];
        for id in keep {
            if let Some(k) = kept.get_mut(id.index()) {
                *k = true;
            }
        }
        let ctx = KernelContext { opset: self.opset };
        for step in &self.steps {
            let mut args = Vec::with_capacity(step.inputs.len());
            for (index, s) in step.inputs.iter().enumerate() {
                match s {
                    None => args.push(None),
                    Some(s) => match values[*s].get() {
                        Some(v) => args.push(Some(v)),
                        None => {
                            return Err(self.kernel_error(step, KernelError::MissingInput { index }))
                        }
                    },
                }
            }
            let results = run_node(&step.op, ctx, &args, Some(step.outputs.len()))
                .map_err(|e| self.kernel_error(step, e))?;
            drop(args);
            let mut results = results.into_iter();
            for (index, out) in step.outputs.iter().enumerate() {
                let produced = results.next().flatten();
                let Some(s) = *out else { continue };
                match produced {
                    Some(v) => values[s] = Slot::Owned(v),
                    None if self.needed[s] || kept[s] => {
                        let why = format!("optional output {index} of this op");
                        return Err(self.kernel_error(step, KernelError::Unsupported(why)));
                    }
                    None => {}
                }
            }
            for &s in &step.release {
                if !kept[s] {
                    values[s] = Slot::Empty;
                }
            }
        }
        let mut kept_values = HashMap::with_capacity(keep.len());
        for id in keep {
            if let Some(v) = values.get(id.index()).and_then(Slot::get) {
                kept_values.insert(*id, v.clone());
            }
        }
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for (i, (name, s)) in self.outputs.iter().enumerate() {
            let again = self.outputs[i + 1..].iter().any(|o| o.1 == *s);
            let value = match std::mem::replace(&mut values[*s], Slot::Empty) {
                Slot::Owned(v) if again => {
                    let copy = v.clone();
                    values[*s] = Slot::Owned(v);
                    copy
                }
                Slot::Owned(v) => v,
                Slot::Shared(v) => {
                    values[*s] = Slot::Shared(v);
                    v.clone()
                }
                Slot::Empty => return Err(ExecError::MissingGraphInput { name: name.clone() }),
            };
            outputs.push(value);
        }
        Ok((outputs, kept_values))
    }

    fn kernel_error(&self, step: &Step, source: KernelError) -> ExecError {
        ExecError::Kernel {
            node: step.name.clone(),
            op: step.op.op_type().to_string(),
            source,
        }
    }

    fn bind_inputs<'a>(
        &'a self,
        given: &'a [(&str, TensorValue)],
        values: &mut [Slot<'a>],
    ) -> Result<(), ExecError> {
        for (name, _) in given {
            if !self.inputs.iter().any(|i| i.name == *name) {
                return Err(ExecError::GraphInput {
                    name: name.to_string(),
                    expected: "an input of this graph".into(),
                    got: "a value for an unknown name".into(),
                });
            }
        }
        for input in &self.inputs {
            let value = match given.iter().find(|(n, _)| *n == input.name) {
                Some((_, v)) => {
                    check_type(input, v)?;
                    v
                }
                None => match &input.default {
                    Some(v) => v,
                    None => {
                        return Err(ExecError::MissingGraphInput {
                            name: input.name.clone(),
                        })
                    }
                },
            };
            values[input.slot] = Slot::Shared(value);
        }
        Ok(())
    }
}

/// Fills each step's release list (slots read for the last time there, or
/// written and never read) and returns, per slot, whether a produced value
/// is read later or is a graph output.
fn schedule_releases(
    steps: &mut [Step],
    slots: usize,
    is_output: &HashSet<usize>,
    is_constant: &HashSet<usize>,
) -> Vec<bool> {
    let mut last_use: Vec<Option<usize>> = vec![None; slots];
    for (i, step) in steps.iter().enumerate() {
        for s in step.inputs.iter().flatten() {
            last_use[*s] = Some(i);
        }
    }
    let mut needed = vec![false; slots];
    for step in steps.iter_mut() {
        for &s in step.outputs.iter().flatten() {
            needed[s] = last_use[s].is_some() || is_output.contains(&s);
            if !needed[s] {
                step.release.push(s);
            }
        }
    }
    for (s, last) in last_use.iter().enumerate() {
        if let Some(i) = last {
            if !is_output.contains(&s) && !is_constant.contains(&s) {
                steps[*i].release.push(s);
            }
        }
    }
    needed
}

fn check_type(input: &InputSlot, value: &TensorValue) -> Result<(), ExecError> {
    let Some(ty) = &input.ty else { return Ok(()) };
    let rank_ok = ty
        .shape
        .as_ref()
        .is_none_or(|dims| dims.len() == value.shape().len());
    if ty.dtype == value.dtype() && rank_ok {
        return Ok(());
    }
    let expected = match &ty.shape {
        Some(dims) => format!("{} of rank {}", ty.dtype, dims.len()),
        None => ty.dtype.to_string(),
    };
    Err(ExecError::GraphInput {
        name: input.name.clone(),
        expected,
        got: format!("{}{:?}", value.dtype(), value.shape()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Plan>();
    }
}

//! Gradient rules: for one forward node, given the gradients of its outputs,
//! the nodes that compute the gradients of the inputs that need one.
//!
//! A rule is called only when at least one output has a gradient and at
//! least one input wants one; it returns one entry per input slot (`None`
//! for inputs that want none). Rules prefer plain ONNX ops and use a
//! [`wdq_ir::GradOp`] only where ONNX has no backward op.

mod elementwise;
mod movement;
mod nn;

use crate::builder::Builder;
use crate::AutodiffError;
use wdq_ir::{GradOp, GradRule, Node, Op, ValueId};

/// What a rule sees.
pub(crate) struct Ctx<'a, 'g> {
    pub b: &'a mut Builder<'g>,
    pub node: &'a Node,
    /// The node's name (or first output's name): error context and name hint.
    pub label: String,
    /// Gradient of each output slot, if any reaches it.
    pub dy: Vec<Option<ValueId>>,
    /// Whether each input slot wants a gradient.
    pub want: Vec<bool>,
    /// Default-domain opset of the model.
    pub opset: i64,
}

/// One gradient per input slot.
pub(crate) type Grads = Vec<Option<ValueId>>;

impl Ctx<'_, '_> {
    pub fn wants(&self, slot: usize) -> bool {
        self.want.get(slot).copied().unwrap_or(false)
    }

    /// Input `slot`, which must be present.
    pub fn x(&self, slot: usize) -> Result<ValueId, AutodiffError> {
        self.node
            .input(slot)
            .ok_or_else(|| self.unsupported(slot, "the input is absent"))
    }

    /// Output `slot`.
    pub fn y(&self, slot: usize) -> Result<ValueId, AutodiffError> {
        self.node
            .output(slot)
            .ok_or_else(|| self.non_differentiable(&format!("output {slot} is absent")))
    }

    /// The gradient of output 0.
    pub fn dy0(&self) -> Result<ValueId, AutodiffError> {
        self.dy
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| self.non_differentiable("output 0 has no gradient"))
    }

    /// Adds a one-output node.
    pub fn op(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        let hint = self.label.clone();
        self.b.one(&hint, op, inputs)
    }

    /// Adds a one-output gradient op.
    pub fn grad(&mut self, op: GradOp, inputs: &[ValueId]) -> ValueId {
        self.op(Op::Grad(op), inputs)
    }

    /// Adds a multi-output gradient op producing the wanted slots.
    pub fn grad_multi(
        &mut self,
        op: GradOp,
        inputs: Vec<Option<ValueId>>,
        wanted: &[bool],
    ) -> Vec<Option<ValueId>> {
        let hint = self.label.clone();
        let names: Vec<Option<&str>> = wanted.iter().map(|&w| w.then_some("g")).collect();
        self.b.node_with(&hint, Op::Grad(op), inputs, &names)
    }

    /// `grads` with only slot `slot` set.
    pub fn only(&self, slot: usize, g: ValueId) -> Grads {
        let mut out = vec![None; self.node.inputs.len()];
        if let Some(s) = out.get_mut(slot) {
            *s = Some(g);
        }
        out
    }

    /// No gradient for any input.
    pub fn none(&self) -> Grads {
        vec![None; self.node.inputs.len()]
    }

    pub fn non_differentiable(&self, why: &str) -> AutodiffError {
        AutodiffError::NonDifferentiable {
            node: self.label.clone(),
            op: self.node.op.op_type().to_string(),
            why: if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            },
        }
    }

    pub fn unsupported(&self, slot: usize, why: &str) -> AutodiffError {
        AutodiffError::UnsupportedInput {
            node: self.label.clone(),
            op: self.node.op.op_type().to_string(),
            slot,
            why: why.to_string(),
        }
    }

    /// Fails if any input other than those in `allowed` wants a gradient.
    pub fn only_slots(&self, allowed: &[usize], why: &str) -> Result<(), AutodiffError> {
        match (0..self.want.len()).find(|s| self.wants(*s) && !allowed.contains(s)) {
            Some(slot) => Err(self.unsupported(slot, why)),
            None => Ok(()),
        }
    }
}

/// Applies the rule of the node's op.
///
/// # Errors
/// [`AutodiffError::NonDifferentiable`] for an op without a rule,
/// [`AutodiffError::UnsupportedInput`] for an input the rule cannot
/// differentiate (e.g. a pooling window size that depends on weights).
pub(crate) fn apply(ctx: &mut Ctx<'_, '_>) -> Result<Grads, AutodiffError> {
    let owned = match ctx.node.op.meta().grad {
        GradRule::Activation => Some(nn::activation_rule(ctx)?),
        GradRule::Layer => nn::apply(ctx)?,
        GradRule::Elementwise => elementwise::apply(ctx)?,
        GradRule::Movement => movement::apply(ctx)?,
        GradRule::NotDifferentiable => None,
    };
    owned.ok_or_else(|| ctx.non_differentiable(""))
}

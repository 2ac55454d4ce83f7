//! The loss at the end of the training step, and the value its gradient
//! seeds.
//!
//! Cross-entropy and KL distillation work on logits. When output 0 is a
//! `Softmax` over the class axis of `[batch, classes]` (classifiers exported
//! with their final softmax; for cross-entropy also an old softmax over a
//! `[batch, classes, 1, 1]` value, as opset conversion spells it), the loss
//! reads the softmax's input instead:
//! cross-entropy of the logits, and for KL the teacher's probabilities go
//! through `Log` first (`softmax(log p) = p`, so the loss is unchanged).
//! `LogSoftmax` outputs need nothing: softmax is invariant under it.

use crate::builder::Builder;
use crate::{DistillKind, Loss};
use wdq_ir::grad_op::Divergence;
use wdq_ir::{DType, Dim, GradOp, Op, TensorType, ValueDef, ValueId};

/// The logits behind `output` when it is a class softmax of a rank-2 value,
/// or the opset-13 spelling of an older softmax over axis 1 of a
/// `[N, C, 1, 1]` value, `Reshape(Softmax(Flatten(x, 1)), Shape(x))`, whose
/// logits are the rank-2 `Flatten` output.
fn softmax_logits(b: &Builder<'_>, output: ValueId, rank2: bool) -> Option<ValueId> {
    let producer = |v: ValueId| match b.graph.value(v).def {
        ValueDef::Node { node, .. } => Some(b.graph.node(node)),
        _ => None,
    };
    let node = producer(output)?;
    let class_softmax =
        |op: &Op| matches!(op, Op::Softmax(a) if matches!(a.axis, None | Some(1) | Some(-1)));
    match &node.op {
        op if rank2 && class_softmax(op) => node.input(0),
        Op::Reshape(_) => {
            let softmax = producer(node.input(0)?)?;
            let flat = softmax.input(0)?;
            let flatten = producer(flat)?;
            let from_axis_1 =
                matches!(&flatten.op, Op::Flatten(a) if matches!(a.axis, None | Some(1)));
            (class_softmax(&softmax.op) && from_axis_1).then_some(flat)
        }
        _ => None,
    }
}

/// Adds the target input and the loss node. Returns the target input's
/// name, the loss value, the value the backward pass starts from, and its
/// gradient.
pub(crate) fn loss_nodes(
    b: &mut Builder<'_>,
    output: ValueId,
    output_ty: Option<TensorType>,
    loss: Loss,
) -> (String, ValueId, ValueId, ValueId) {
    let dims = output_ty.as_ref().and_then(|t| t.shape.clone());
    let rank2 = dims.as_ref().is_some_and(|s| s.len() == 2);
    let logits = softmax_logits(b, output, rank2);
    let (target_name, target_ty, grad) = match loss {
        Loss::CrossEntropy => {
            let batch = dims
                .as_ref()
                .and_then(|s| s.first().cloned())
                .unwrap_or(Dim::Unknown);
            let ty = TensorType {
                dtype: DType::I64,
                shape: Some(vec![batch]),
            };
            ("labels".to_string(), ty, GradOp::SoftmaxCrossEntropy)
        }
        Loss::Distill { kind } => {
            let divergence = match kind {
                DistillKind::Kl => Divergence::KlSoftmax,
                DistillKind::Mse => Divergence::MeanSquare,
                DistillKind::Auto if rank2 => Divergence::KlSoftmax,
                DistillKind::Auto => Divergence::MeanSquare,
            };
            let ty = output_ty.clone().unwrap_or(TensorType {
                dtype: DType::F32,
                shape: None,
            });
            let name = format!("{}.teacher", b.graph.value(output).name);
            (name, ty, GradOp::DistillLoss(divergence))
        }
    };
    let name = b.fresh(&target_name);
    let target = b
        .graph
        .add_value(name.clone(), Some(target_ty), ValueDef::Input);
    b.graph.inputs.push(target);
    let (student, teacher) = match (&grad, logits) {
        (GradOp::SoftmaxCrossEntropy, Some(z)) => (z, target),
        (GradOp::DistillLoss(Divergence::KlSoftmax), Some(z)) if rank2 => {
            let log = b.one("loss.teacher", Op::Log, &[target]);
            (z, log)
        }
        _ => (output, target),
    };
    let loss_name = b.fresh("loss");
    let outs = b.several(
        "loss",
        Op::Grad(grad),
        vec![Some(student), Some(teacher)],
        &["value", "grad"],
    );
    let (loss, seed) = (outs[0], outs[1]);
    b.graph.value_mut(loss).name = loss_name;
    (name, loss, student, seed)
}

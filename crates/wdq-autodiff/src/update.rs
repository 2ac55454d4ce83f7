//! The SGD update of one parameter, as graph nodes (PyTorch's convention):
//! `g' = g + weight_decay * w`; with momentum `v' = momentum * v + g'` and
//! `w' = w - lr * v'`, else `w' = w - lr * g'`.

use crate::builder::Builder;
use crate::{AutodiffError, StepOptions};
use std::sync::Arc;
use wdq_ir::{DType, Op, Tensor, TensorType, ValueDef, ValueId};

/// Names of the update's interface values.
pub(crate) struct UpdateNames {
    pub updated: String,
    pub gradient: String,
    pub velocity_input: Option<String>,
    pub velocity_output: Option<String>,
}

/// Adds the update of parameter `w` with gradient `grad` (`None`: the loss
/// does not reach it; the gradient is zero) and its graph outputs.
///
/// # Errors
/// [`AutodiffError::Parameter`] when the parameter's shape is unknown.
pub(crate) fn sgd(
    b: &mut Builder<'_>,
    w: ValueId,
    grad: Option<ValueId>,
    lr: ValueId,
    options: &StepOptions,
) -> Result<UpdateNames, AutodiffError> {
    let name = b.graph.value(w).name.clone();
    let shape = b
        .graph
        .value(w)
        .ty
        .as_ref()
        .and_then(TensorType::concrete_shape)
        .ok_or_else(|| AutodiffError::Parameter {
            name: name.clone(),
            why: "its shape is unknown".into(),
        })?;
    let zeros = || Tensor::from_f32(shape.clone(), vec![0.0; shape.iter().product()]);
    let g = match grad {
        Some(g) => g,
        None => b.constant(&format!("{name}.zero_grad"), zeros()),
    };
    let gradient = b.fresh(&format!("{name}.grad"));
    let g = if matches!(b.graph.value(g).def, ValueDef::Node { .. }) {
        b.graph.value_mut(g).name = gradient.clone();
        g
    } else {
        let v = b.one(&name, Op::Identity, &[g]);
        b.graph.value_mut(v).name = gradient.clone();
        v
    };
    b.graph.outputs.push(g);
    let step = if options.weight_decay != 0.0 {
        let wd = b.scalar(&format!("{name}.weight_decay"), options.weight_decay);
        let decay = b.one(&name, Op::Mul, &[w, wd]);
        b.one(&name, Op::Add, &[g, decay])
    } else {
        g
    };
    let (step, velocity_input, velocity_output) = if options.momentum != 0.0 {
        let v_name = b.fresh(&format!("{name}.velocity"));
        let ty = TensorType::known(DType::F32, &shape);
        let v = b.graph.add_value(
            v_name.clone(),
            Some(ty),
            ValueDef::Initializer(Arc::new(zeros())),
        );
        b.graph.inputs.push(v);
        let m = b.scalar(&format!("{name}.momentum"), options.momentum);
        let kept = b.one(&name, Op::Mul, &[v, m]);
        let v_new = b.one(&name, Op::Add, &[kept, step]);
        let out_name = b.fresh(&format!("{name}.velocity.updated"));
        b.graph.value_mut(v_new).name = out_name.clone();
        b.graph.outputs.push(v_new);
        (v_new, Some(v_name), Some(out_name))
    } else {
        (step, None, None)
    };
    let delta = b.one(&name, Op::Mul, &[step, lr]);
    let updated = b.one(&name, Op::Sub, &[w, delta]);
    let updated_name = b.fresh(&format!("{name}.updated"));
    b.graph.value_mut(updated).name = updated_name.clone();
    b.graph.outputs.push(updated);
    Ok(UpdateNames {
        updated: updated_name,
        gradient,
        velocity_input,
        velocity_output,
    })
}

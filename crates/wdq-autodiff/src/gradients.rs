//! A plain gradient graph: the gradients of `sum(output * seed)` with
//! respect to chosen values, for a caller-supplied seed. This is what the
//! training step uses inside, exposed for tests and for tools that want
//! gradients without a loss or an update (sensitivity probes, checks of
//! gradient rules against finite differences).

use crate::builder::Builder;
use crate::AutodiffError;
use wdq_ir::grad_op::GRAD_DOMAIN;
use wdq_ir::{Model, OpsetId, ValueDef};

/// A model extended with the gradients of its first output.
#[derive(Clone, Debug)]
pub struct GradientGraph {
    /// Outputs: the forward output 0, then one gradient per `wrt` value.
    pub model: Model,
    /// Graph input carrying `d loss / d output` (shaped like output 0).
    pub seed_input: String,
    /// Graph output names of the gradients, in `wrt` order.
    pub gradients: Vec<String>,
}

/// Builds the gradients of `sum(output0 * seed)` with respect to the values
/// named in `wrt` (graph inputs, initializers or intermediates).
///
/// # Errors
/// [`AutodiffError::NoOutput`] for a model without outputs;
/// [`AutodiffError::Parameter`] for a name that is not a value, or a value
/// the output does not depend on; the rule errors of
/// [`crate::training_step`].
pub fn gradient_graph(model: &Model, wrt: &[&str]) -> Result<GradientGraph, AutodiffError> {
    let mut out = model.clone();
    let output = *model.graph.outputs.first().ok_or(AutodiffError::NoOutput)?;
    let opset = model.default_opset().unwrap_or(13);
    let mut b = Builder::new(&mut out.graph);
    let mut targets = Vec::with_capacity(wrt.len());
    for name in wrt {
        let v = b
            .graph
            .value_by_name(name)
            .ok_or_else(|| AutodiffError::Parameter {
                name: name.to_string(),
                why: "no value has this name".into(),
            })?;
        targets.push(v);
    }
    let forward = b.graph.order.clone();
    let seed_name = b.fresh(&format!("{}.seed", b.graph.value(output).name));
    let seed_ty = b.graph.value(output).ty.clone();
    let seed = b
        .graph
        .add_value(seed_name.clone(), seed_ty, ValueDef::Input);
    b.graph.inputs.push(seed);
    let grads = crate::backward::backward(&mut b, &forward, &targets, output, seed, opset)?;
    let mut names = Vec::with_capacity(wrt.len());
    b.graph.outputs = vec![output];
    for (name, v) in wrt.iter().zip(&targets) {
        let g = *grads.get(v).ok_or_else(|| AutodiffError::Parameter {
            name: name.to_string(),
            why: "the output does not depend on it".into(),
        })?;
        let g = if g == seed {
            b.one(name, wdq_ir::Op::Identity, &[g])
        } else {
            g
        };
        let grad_name = b.fresh(&format!("{name}.grad"));
        b.graph.value_mut(g).name = grad_name.clone();
        b.graph.outputs.push(g);
        names.push(grad_name);
    }
    if !out.opsets.iter().any(|o| o.domain == GRAD_DOMAIN) {
        out.opsets.push(OpsetId {
            domain: GRAD_DOMAIN.to_string(),
            version: 1,
        });
    }
    wdq_ir::verify(&out.graph)?;
    Ok(GradientGraph {
        model: out,
        seed_input: seed_name,
        gradients: names,
    })
}

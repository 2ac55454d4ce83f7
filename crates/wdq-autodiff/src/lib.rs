//! Autodiff: a forward model in, a training-step model out.
//!
//! [`training_step`] turns an inference graph into one graph that runs the
//! forward pass, a loss, the reverse-mode gradients of every trainable
//! parameter and one SGD update, so that the executor (`wdq-exec`) can run a
//! whole step as a plain graph. Parameters become graph inputs (their
//! current value is the default); the updated values, the gradients and the
//! momentum buffers are graph outputs. Gradient ops that ONNX lacks are
//! [`wdq_ir::GradOp`]s of the project domain.
//!
//! Invariants of the result: the forward nodes keep their order and names;
//! every backward node comes after the forward nodes; the graph verifies.

mod backward;
mod builder;
mod error;
mod gradients;
mod loss;
mod params;
mod rules;
mod update;

pub use error::AutodiffError;
pub use gradients::{gradient_graph, GradientGraph};

use builder::Builder;
use std::collections::HashSet;
use wdq_ir::grad_op::GRAD_DOMAIN;
use wdq_ir::{weighted_layers, LayerSlots, Model, Op, OpsetId, TensorType, ValueDef, ValueId};

/// Which distillation loss to use against a teacher output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistillKind {
    /// KL divergence on softmax when the output is `[batch, classes]`
    /// (declared rank 2), mean square error otherwise.
    Auto,
    /// KL(softmax(teacher) || softmax(student)) over axis 1, mean over the batch.
    Kl,
    /// Mean square error over all elements.
    Mse,
}

/// The training loss, computed on the model's first output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean softmax cross-entropy of the logits (output 0, `[N, C]`) against
    /// int64 labels `[N]` fed as the input named `labels`.
    CrossEntropy,
    /// Distillation against a teacher output fed as an input.
    Distill { kind: DistillKind },
}

/// How the step is built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOptions {
    pub loss: Loss,
    /// Train the biases of weighted layers.
    pub train_bias: bool,
    /// Train BatchNormalization scale and bias (statistics stay frozen).
    pub train_batchnorm_affine: bool,
    /// SGD momentum (PyTorch convention); 0 for plain SGD.
    pub momentum: f32,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f32,
}

impl Default for StepOptions {
    fn default() -> Self {
        StepOptions {
            loss: Loss::CrossEntropy,
            train_bias: true,
            train_batchnorm_affine: false,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// One trainable parameter of a [`TrainingStep`].
#[derive(Clone, Debug, PartialEq)]
pub struct TrainableParam {
    /// Initializer (or Constant output) name in the forward model.
    pub name: String,
    /// The weighted layer node it belongs to, in the forward model and in
    /// the step model alike (`None` for BatchNormalization affine
    /// parameters). A tied weight belongs to its first user.
    pub layer: Option<wdq_ir::NodeId>,
    pub is_bias: bool,
    /// Graph input carrying the current value (defaults to the model's value).
    pub input: String,
    /// Graph output carrying the value after one SGD step.
    pub updated: String,
    /// Graph output carrying dLoss/dParam for this batch.
    pub gradient: String,
    /// Momentum buffer input and output (when momentum != 0; the input
    /// defaults to zeros).
    pub velocity_input: Option<String>,
    pub velocity_output: Option<String>,
}

/// A training-step model and the names of its interface.
#[derive(Clone, Debug)]
pub struct TrainingStep {
    /// Forward + loss + backward + update, runnable by `wdq_exec::plan::Plan`.
    pub model: Model,
    /// The forward model's graph inputs (fed per batch).
    pub data_inputs: Vec<String>,
    /// `labels` (i64 `[N]`) or the teacher output input for distillation.
    pub target_input: String,
    /// f32 scalar input.
    pub learning_rate_input: String,
    pub params: Vec<TrainableParam>,
    /// f32 scalar output: the mean loss over the batch.
    pub loss_output: String,
}

/// The trainable parameters of the forward graph, in graph order, each once.
fn find_params(model: &Model, options: &StepOptions) -> Vec<params::Found> {
    let graph = &model.graph;
    let mut found: Vec<params::Found> = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |at: ValueId, dq, layer: Option<wdq_ir::NodeId>, is_bias: bool| {
        if seen.insert(at) {
            found.push(params::Found {
                at,
                name: graph.value(at).name.clone(),
                layer,
                is_bias,
                dequantize: dq,
            });
        }
    };
    let layers = weighted_layers(graph);
    let users = graph.users();
    for (id, node) in graph.live_nodes() {
        if let Some(layer) = layers.iter().find(|l| l.node == id) {
            add(layer.weight, layer.dequantize, Some(id), false);
            for companion in &layer.companions {
                add(companion.weight, companion.dequantize, Some(id), false);
            }
            if options.train_bias {
                let bias = match node.op {
                    Op::MatMul => matmul_bias(graph, &users, id),
                    _ => LayerSlots::of(&node.op)
                        .and_then(|s| node.input(s.bias?))
                        .and_then(|b| params::source(graph, b)),
                };
                if let Some((v, dq)) = bias {
                    add(v, dq, Some(id), true);
                }
            }
        } else if let Op::BatchNormalization(_) = node.op {
            if options.train_batchnorm_affine {
                for slot in [1, 2] {
                    if let Some((v, dq)) = node.input(slot).and_then(|b| params::source(graph, b)) {
                        add(v, dq, None, slot == 2);
                    }
                }
            }
        }
    }
    found
}

/// The bias of a MatMul layer: the constant 1-D operand of an `Add` that
/// is the MatMul output's only user (the `MatMul + Add` form of a linear
/// layer that exporters write).
fn matmul_bias(
    graph: &wdq_ir::Graph,
    users: &[Vec<(wdq_ir::NodeId, usize)>],
    layer: wdq_ir::NodeId,
) -> Option<(ValueId, Option<wdq_ir::NodeId>)> {
    let out = graph.node(layer).output(0)?;
    let [(user, slot)] = users.get(out.index())?.as_slice() else {
        return None;
    };
    let add = graph.node(*user);
    if !matches!(add.op, Op::Add) || graph.outputs.contains(&out) {
        return None;
    }
    let other = add.input(1 - (*slot).min(1))?;
    let (v, dq) = params::source(graph, other)?;
    let rank1 = match &graph.value(v).def {
        ValueDef::Initializer(t) => t.shape().len() == 1,
        _ => graph
            .resolve_const(v)
            .is_some_and(|(_, t)| t.shape().len() == 1),
    };
    (rank1 || dq.is_some()).then_some((v, dq))
}

/// Builds the training step of `model`.
///
/// # Errors
/// [`AutodiffError::NoOutput`] / [`AutodiffError::NoParameters`] for a model
/// with nothing to train; [`AutodiffError::NonDifferentiable`] naming a node
/// between a weight and the loss that has no gradient (Floor, ArgMax, an
/// opaque op, ...); [`AutodiffError::Parameter`] for a weight that cannot be
/// trained (non-f32, non-constant quantization parameters);
/// [`AutodiffError::Verify`] if the built graph breaks an IR invariant.
pub fn training_step(model: &Model, options: &StepOptions) -> Result<TrainingStep, AutodiffError> {
    let mut out = model.clone();
    let output = *model.graph.outputs.first().ok_or(AutodiffError::NoOutput)?;
    let data_inputs: Vec<String> = model
        .graph
        .inputs
        .iter()
        .filter(|&&v| !matches!(model.graph.value(v).def, ValueDef::Initializer(_)))
        .map(|&v| model.graph.value(v).name.clone())
        .collect();
    let found = find_params(model, options);
    if found.is_empty() {
        return Err(AutodiffError::NoParameters);
    }
    let opset = model.default_opset().unwrap_or(13);
    let mut b = Builder::new(&mut out.graph);
    let mut inputs = Vec::with_capacity(found.len());
    for p in &found {
        inputs.push(params::make_input(&mut b, p)?);
    }
    let forward: Vec<_> = b.graph.order.clone();
    let output_ty = b.graph.value(output).ty.clone();
    let (target_input, loss, differentiated, seed) =
        loss::loss_nodes(&mut b, output, output_ty, options.loss);
    let grads = backward::backward(&mut b, &forward, &inputs, differentiated, seed, opset)?;
    let lr = {
        let name = b.fresh("learning_rate");
        let ty = TensorType::known(wdq_ir::DType::F32, &[]);
        let v = b.graph.add_value(name, Some(ty), ValueDef::Input);
        b.graph.inputs.push(v);
        v
    };
    let forward_outputs = std::mem::take(&mut b.graph.outputs);
    b.graph.outputs.push(loss);
    b.graph.outputs.extend(forward_outputs);
    let mut params_out = Vec::with_capacity(found.len());
    for (p, &input) in found.iter().zip(&inputs) {
        let names = update::sgd(&mut b, input, grads.get(&input).copied(), lr, options)?;
        params_out.push(TrainableParam {
            name: p.name.clone(),
            layer: p.layer,
            is_bias: p.is_bias,
            input: b.graph.value(input).name.clone(),
            updated: names.updated,
            gradient: names.gradient,
            velocity_input: names.velocity_input,
            velocity_output: names.velocity_output,
        });
    }
    let learning_rate_input = b.graph.value(lr).name.clone();
    let loss_output = b.graph.value(loss).name.clone();
    if !out.opsets.iter().any(|o| o.domain == GRAD_DOMAIN) {
        out.opsets.push(OpsetId {
            domain: GRAD_DOMAIN.to_string(),
            version: 1,
        });
    }
    wdq_ir::verify(&out.graph)?;
    Ok(TrainingStep {
        model: out,
        data_inputs,
        target_input,
        learning_rate_input,
        params: params_out,
        loss_output,
    })
}

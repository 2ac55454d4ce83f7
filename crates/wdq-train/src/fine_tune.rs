//! Step 1 of the method: fine-tune for K cycles with the training-step
//! graph from `wdq-autodiff`, and summarise each weighted layer's drift
//! after every cycle (see [`crate::drift`]).

use crate::batches::{gather_samples, BatchOrder};
use crate::drift::CycleDrift;
use crate::label_free::{self, Teacher};
use crate::{Dataset, LayerDrift, TrainError, TrainOptions, TrainReport};
use ndarray::{arr0, ArrayD};
use std::collections::HashMap;
use std::time::Instant;
use wdq_autodiff::{training_step, Loss, StepOptions, TrainingStep};
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_ir::{Model, NodeId, ValueDef};

/// Progress of one optimizer step, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct StepProgress {
    pub cycle: usize,
    pub step: usize,
    pub steps_per_cycle: usize,
    pub loss: f64,
    pub samples_per_second: f64,
}

/// Hooks the caller may use while training runs.
pub trait TrainObserver {
    /// Called after every optimizer step.
    fn on_step(&mut self, _progress: &StepProgress) {}
    /// Called after every cycle with every trained tensor (name, value);
    /// e.g. to write snapshots. An error stops training.
    fn on_cycle(&mut self, _cycle: usize, _params: &[(&str, &TensorValue)]) -> Result<(), String> {
        Ok(())
    }
}

/// An observer that does nothing.
pub struct Quiet;
impl TrainObserver for Quiet {}

/// Fine-tunes `model` on `data` for `options.cycles` cycles and returns the
/// drift of every weighted layer after each cycle.
///
/// # Errors
/// [`TrainError`] when the training graph cannot be built or run, when the
/// data is empty, or when the loss or a weight becomes NaN or infinite
/// ([`TrainError::Diverged`]: no statistics are returned from such a run).
pub fn fine_tune(
    model: &Model,
    data: &Dataset,
    options: &TrainOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainReport, TrainError> {
    let started = Instant::now();
    if data.len == 0 {
        return Err(TrainError::NoData);
    }
    let teacher = match &data.labels {
        Some(labels) => Teacher {
            loss: Loss::CrossEntropy,
            targets: TensorValue::I64(ndarray::Array1::from(labels.to_vec()).into_dyn()),
            input_noise: vec![0.0; data.inputs.len()],
            description: "cross-entropy".to_string(),
        },
        None => label_free::teacher(
            &Plan::new(model)?,
            data,
            options.batch_size,
            options.label_free,
            options.seed,
        )?,
    };
    let mut noise = label_free::noise_rng(options.seed ^ 0x006e_6f69_7365);
    let step_options = StepOptions {
        loss: teacher.loss,
        train_bias: true,
        train_batchnorm_affine: options.train_batchnorm_affine,
        momentum: options.momentum,
        weight_decay: options.weight_decay,
    };
    let step = training_step(model, &step_options)?;
    let plan = Plan::new(&step.model)?;
    let mut params = initial_params(model, &step)?;
    // A weight that is not finite before any step is the model's fault,
    // not a divergence: say so, naming the tensor.
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    if let Some(name) = names.into_iter().find(|n| {
        params[*n]
            .as_f32()
            .is_some_and(|a| a.iter().any(|x| !x.is_finite()))
    }) {
        return Err(TrainError::NonFiniteWeight { name: name.clone() });
    }
    let initial: HashMap<String, Vec<f32>> = params
        .iter()
        .filter_map(|(name, v)| {
            v.as_f32()
                .map(|a| (name.clone(), a.iter().copied().collect()))
        })
        .collect();
    let mut velocities: HashMap<String, TensorValue> = HashMap::new();
    let tracked = tracked_layers(model, &step, options.include_bias);
    if tracked.is_empty() {
        return Err(TrainError::NoLayers);
    }
    let mut order = BatchOrder::new(data.len, options.batch_size, options.seed);
    let steps_per_cycle = options
        .steps_per_cycle
        .unwrap_or_else(|| order.batches_per_epoch())
        .max(1);
    let mut layer_cycles: Vec<Vec<CycleDrift>> = vec![Vec::new(); tracked.len()];
    let mut loss_per_cycle = Vec::with_capacity(options.cycles);
    let lr = TensorValue::F32(arr0(options.learning_rate).into_dyn());
    for cycle in 0..options.cycles {
        let mut loss_sum = 0f64;
        for step_index in 0..steps_per_cycle {
            let step_started = Instant::now();
            let batch = order.next_batch();
            let mut feeds: Vec<(&str, TensorValue)> = Vec::new();
            for ((name, batch_value), &std) in
                data.gather(&batch).into_iter().zip(&teacher.input_noise)
            {
                feeds.push((name, label_free::add_noise(batch_value, std, &mut noise)));
            }
            feeds.push((
                step.target_input.as_str(),
                gather_samples(&teacher.targets, &batch),
            ));
            feeds.push((step.learning_rate_input.as_str(), lr.clone()));
            for p in &step.params {
                feeds.push((p.input.as_str(), params[&p.name].clone()));
                if let Some(v_in) = &p.velocity_input {
                    let v = velocities
                        .remove(&p.name)
                        .unwrap_or_else(|| zeros_like(&params[&p.name]));
                    feeds.push((v_in.as_str(), v));
                }
            }
            let outputs = plan.run(&feeds)?;
            let named: HashMap<&str, TensorValue> =
                plan.output_names().into_iter().zip(outputs).collect();
            let loss = scalar(&named, &step.loss_output)?;
            let first_step = cycle == 0 && step_index == 0;
            if !loss.is_finite() {
                if first_step {
                    return Err(overflow_at_start(format!("a loss of {loss}"), &params));
                }
                return Err(TrainError::Diverged {
                    cycle: cycle + 1,
                    step: step_index + 1,
                    what: format!("the loss is {loss}"),
                    learning_rate: options.learning_rate,
                });
            }
            loss_sum += loss;
            for p in &step.params {
                let updated = take(&named, &p.updated)?;
                if updated
                    .as_f32()
                    .is_some_and(|a| a.iter().any(|x| !x.is_finite()))
                {
                    let what = format!("weight `{}` holds NaN or infinity", p.name);
                    if first_step {
                        return Err(overflow_at_start(
                            format!("a non-finite update ({what})"),
                            &params,
                        ));
                    }
                    return Err(TrainError::Diverged {
                        cycle: cycle + 1,
                        step: step_index + 1,
                        what,
                        learning_rate: options.learning_rate,
                    });
                }
                params.insert(p.name.clone(), updated);
                if let Some(v_out) = &p.velocity_output {
                    velocities.insert(p.name.clone(), take(&named, v_out)?);
                }
            }
            let seconds = step_started.elapsed().as_secs_f64().max(1e-9);
            observer.on_step(&StepProgress {
                cycle: cycle + 1,
                step: step_index + 1,
                steps_per_cycle,
                loss,
                samples_per_second: batch.len() as f64 / seconds,
            });
        }
        loss_per_cycle.push(loss_sum / steps_per_cycle as f64);
        for (layer, cycles) in tracked.iter().zip(layer_cycles.iter_mut()) {
            let (w0, w) = concat_tracked(&layer.tensors, &initial, &params);
            cycles.push(CycleDrift::between(&w0, &w));
        }
        let snapshot: Vec<(&str, &TensorValue)> = step
            .params
            .iter()
            .map(|p| (p.name.as_str(), &params[&p.name]))
            .collect();
        observer
            .on_cycle(cycle + 1, &snapshot)
            .map_err(|message| TrainError::Observer {
                cycle: cycle + 1,
                message,
            })?;
    }
    let layers = tracked
        .into_iter()
        .zip(layer_cycles)
        .map(|(t, cycles)| {
            let drift = LayerDrift {
                users: t.users,
                op: t.op,
                weight: t.tensors[0].clone(),
                parameters: t.parameters,
                tensors: t.tensors,
                cycles,
            };
            (t.node, drift)
        })
        .collect();
    Ok(TrainReport {
        layers,
        loss_per_cycle,
        steps_per_cycle,
        loss: teacher.description,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A quantization unit whose drift is tracked: its weight and, with
/// `include_bias`, the biases of the layers reading it.
struct Tracked {
    node: NodeId,
    users: Vec<NodeId>,
    op: String,
    tensors: Vec<String>,
    parameters: usize,
}

fn tracked_layers(model: &Model, step: &TrainingStep, include_bias: bool) -> Vec<Tracked> {
    let graph = &model.graph;
    let mut out = Vec::new();
    for unit in wdq_ir::layer_units(graph) {
        let mine: Vec<&wdq_autodiff::TrainableParam> = step
            .params
            .iter()
            .filter(|p| p.layer.is_some_and(|l| unit.users.contains(&l)))
            .collect();
        let mut tensors: Vec<String> = mine
            .iter()
            .filter(|p| !p.is_bias)
            .map(|p| p.name.clone())
            .collect();
        if include_bias {
            tensors.extend(mine.iter().filter(|p| p.is_bias).map(|p| p.name.clone()));
        }
        if tensors.is_empty() {
            continue;
        }
        out.push(Tracked {
            node: unit.node(),
            op: graph.node(unit.node()).op.op_type().to_string(),
            tensors,
            parameters: unit.layer.parameter_count(),
            users: unit.users,
        });
    }
    out
}

fn concat_tracked(
    tensors: &[String],
    initial: &HashMap<String, Vec<f32>>,
    current: &HashMap<String, TensorValue>,
) -> (Vec<f32>, Vec<f32>) {
    let mut w0 = Vec::new();
    let mut w = Vec::new();
    for name in tensors {
        if let (Some(a), Some(b)) = (
            initial.get(name),
            current.get(name).and_then(TensorValue::as_f32),
        ) {
            w0.extend_from_slice(a);
            w.extend(b.iter().copied());
        }
    }
    (w0, w)
}

/// Initial value of every trainable parameter: the training graph's input
/// default when it has one, else the forward model's constant.
fn initial_params(
    model: &Model,
    step: &TrainingStep,
) -> Result<HashMap<String, TensorValue>, TrainError> {
    let mut out = HashMap::new();
    for p in &step.params {
        let from_step = step.model.graph.value_by_name(&p.input).and_then(|id| {
            match &step.model.graph.value(id).def {
                ValueDef::Initializer(t) => Some(t.clone()),
                _ => None,
            }
        });
        let tensor = match from_step {
            Some(t) => t,
            None => model
                .graph
                .value_by_name(&p.name)
                .and_then(|id| model.graph.resolve_const(id))
                .map(|(_, t)| t)
                .ok_or_else(|| TrainError::MissingParameter {
                    name: p.name.clone(),
                })?,
        };
        let value =
            TensorValue::from_tensor(&tensor).map_err(|_| TrainError::MissingParameter {
                name: p.name.clone(),
            })?;
        out.insert(p.name.clone(), value);
    }
    Ok(out)
}

fn zeros_like(v: &TensorValue) -> TensorValue {
    TensorValue::F32(ArrayD::zeros(v.shape()))
}

fn take(named: &HashMap<&str, TensorValue>, name: &str) -> Result<TensorValue, TrainError> {
    named
        .get(name)
        .cloned()
        .ok_or_else(|| TrainError::MissingOutput {
            name: name.to_string(),
        })
}

fn scalar(named: &HashMap<&str, TensorValue>, name: &str) -> Result<f64, TrainError> {
    match named.get(name) {
        Some(TensorValue::F32(a)) if a.len() == 1 => {
            Ok(a.iter().next().copied().unwrap_or(f32::NAN) as f64)
        }
        _ => Err(TrainError::MissingOutput {
            name: name.to_string(),
        }),
    }
}

/// [`TrainError::OverflowAtStart`] naming the trained tensor of largest
/// magnitude (first by name on ties).
fn overflow_at_start(what: String, params: &HashMap<String, TensorValue>) -> TrainError {
    let mut largest = (0f32, String::new());
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    for name in names {
        let peak = params[name]
            .as_f32()
            .map_or(0.0, |a| a.iter().fold(0f32, |m, x| m.max(x.abs())));
        if peak > largest.0 || largest.1.is_empty() {
            largest = (peak, name.clone());
        }
    }
    TrainError::OverflowAtStart {
        what,
        largest: largest.0,
        largest_in: largest.1,
    }
}

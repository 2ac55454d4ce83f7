//! The criteria that run the model: each layer's initial weight as the
//! layer sees it (behind any Identity or DequantizeLinear), the SQNR of each
//! layer's output with its weight fake-quantized to low bits, and the
//! gradient score sum((dL/dW * (W - Q(W)))^2).
//!
//! Weights are fake-quantized as lowering quantizes them: symmetric signed
//! codes at the low bit width, per output channel (Conv axis 0,
//! ConvTranspose axis 1 when not grouped, Gemm axis 0 with `transB` and 1
//! otherwise, a MatMul's last axis) or per tensor, float or power-of-two
//! scales.

use crate::data::Dataset;
use crate::evaluate::argmax_rows;
use ndarray::ArrayD;
use std::collections::HashMap;
use wdq_autodiff::{training_step, Loss, StepOptions};
use wdq_exec::plan::Plan;
use wdq_exec::{run_op, ExecError, KernelContext, TensorValue};
use wdq_ir::layers::output_channel_axis;
use wdq_ir::{Model, NodeId, Op, ValueId};
use wdq_lower::{LowerOptions, WeightGranularity};
use wdq_quant::{fake_quantize, symmetric_params, Granularity, QuantSpec};
use wdq_train::BatchOrder;

/// Why a sensitivity criterion could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum SensitivityError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("layer `{layer}`: {source}")]
    Kernel {
        layer: String,
        source: wdq_exec::KernelError,
    },
    #[error("layer `{layer}`: its weight is not a float tensor when the model runs")]
    WeightType { layer: String },
    #[error("layer `{layer}`: fake quantization of its weight: {source}")]
    Quant {
        layer: String,
        source: wdq_quant::QuantError,
    },
    #[error("gradient criterion: building the training step: {0}")]
    Autodiff(#[from] wdq_autodiff::AutodiffError),
    #[error("gradient criterion: the training step has no output `{name}`")]
    MissingOutput { name: String },
    #[error("the training data holds no sample")]
    NoData,
    #[error("gradient criterion without labels: the model's first output must be float [N, classes] to take its top-1 as labels")]
    NotClassifier,
}

/// One weighted layer of the model being probed.
#[derive(Clone, Debug)]
pub struct ProbedLayer {
    pub node: NodeId,
    pub label: String,
    /// The weight as the layer reads it (float).
    pub weight: ArrayD<f32>,
    /// The weight fake-quantized at the low bit width.
    pub quantized: ArrayD<f32>,
}

/// The granularity lowering uses for `op`'s weight of rank `rank`.
fn weight_granularity(op: &Op, rank: usize, granularity: WeightGranularity) -> Granularity {
    if granularity == WeightGranularity::PerTensor {
        return Granularity::PerTensor;
    }
    output_channel_axis(op, rank).map_or(Granularity::PerTensor, |axis| Granularity::PerChannel {
        axis,
    })
}

/// Reads each layer's weight from one forward run of `model` on the first
/// sample of `data` and fake-quantizes it to `low_bits`.
///
/// # Errors
/// [`SensitivityError`] when the model fails, a weight is not float, or
/// its quantization parameters cannot be chosen.
pub fn probe_weights(
    model: &Model,
    layers: &[NodeId],
    data: &Dataset,
    low_bits: u8,
    lower: &LowerOptions,
) -> Result<Vec<ProbedLayer>, SensitivityError> {
    if data.len == 0 {
        return Err(SensitivityError::NoData);
    }
    let graph = &model.graph;
    let slots = weight_slots(model, layers);
    let keep: Vec<ValueId> = slots.iter().filter_map(|s| s.1).collect();
    let (_, kept) = Plan::new(model)?.run_with(&data.batch(0, 1), &keep)?;
    let mode = lower.scale;
    let mut out = Vec::with_capacity(layers.len());
    for (&node, (_, value)) in layers.iter().zip(&slots) {
        let label = graph.node_label(node);
        let weight = match value.and_then(|v| kept.get(&v)) {
            Some(TensorValue::F32(a)) => a.clone(),
            _ => return Err(SensitivityError::WeightType { layer: label }),
        };
        let quant = |source| SensitivityError::Quant {
            layer: label.clone(),
            source,
        };
        let spec = QuantSpec::signed(low_bits).map_err(quant)?;
        let granularity =
            weight_granularity(&graph.node(node).op, weight.ndim(), lower.granularity);
        let params = symmetric_params(&weight.view(), spec, granularity, mode).map_err(quant)?;
        let quantized = fake_quantize(&weight.view(), &params).map_err(quant)?;
        out.push(ProbedLayer {
            node,
            label,
            weight,
            quantized,
        });
    }
    Ok(out)
}

/// (weight slot, weight value) of each layer.
fn weight_slots(model: &Model, layers: &[NodeId]) -> Vec<(usize, Option<ValueId>)> {
    let found = wdq_ir::weighted_layers(&model.graph);
    layers
        .iter()
        .map(|&node| {
            let slot = found
                .iter()
                .find(|l| l.node == node)
                .map_or(1, |l| l.weight_slot);
            (slot, model.graph.node(node).input(slot))
        })
        .collect()
}

/// SQNR in dB of each layer's first output with its weight replaced by the
/// fake-quantized one, the layer's other inputs as the float model
/// computes them, over the first `samples` samples of `data` in batches:
/// 10 log10(sum y^2 / sum (y - y_q)^2). Infinite when the output does not
/// change.
///
/// # Errors
/// [`SensitivityError`] when the model or a layer kernel fails.
pub fn output_sqnr(
    model: &Model,
    probed: &[ProbedLayer],
    data: &Dataset,
    samples: usize,
    batch_size: usize,
) -> Result<Vec<f64>, SensitivityError> {
    let graph = &model.graph;
    let plan = Plan::new(model)?;
    let ctx = KernelContext {
        opset: plan.opset(),
    };
    let slots = weight_slots(model, &probed.iter().map(|p| p.node).collect::<Vec<_>>());
    let mut keep: Vec<ValueId> = Vec::new();
    for p in probed {
        let node = graph.node(p.node);
        keep.extend(node.inputs.iter().flatten());
        keep.extend(node.output(0));
    }
    let (mut signal, mut noise) = (vec![0f64; probed.len()], vec![0f64; probed.len()]);
    let end = samples.clamp(1, data.len.max(1)).min(data.len);
    let mut start = 0;
    while start < end {
        let stop = (start + batch_size.max(1)).min(end);
        let (_, kept) = plan.run_with(&data.batch(start, stop), &keep)?;
        for (i, (p, (slot, _))) in probed.iter().zip(&slots).enumerate() {
            let node = graph.node(p.node);
            let quantized = TensorValue::F32(p.quantized.clone());
            let args: Vec<Option<&TensorValue>> = node
                .inputs
                .iter()
                .enumerate()
                .map(|(k, v)| {
                    if k == *slot {
                        Some(&quantized)
                    } else {
                        v.and_then(|v| kept.get(&v))
                    }
                })
                .collect();
            let kernel = |source| SensitivityError::Kernel {
                layer: p.label.clone(),
                source,
            };
            let result = run_op(&node.op, ctx, &args).map_err(kernel)?;
            let float = node
                .output(0)
                .and_then(|v| kept.get(&v))
                .and_then(TensorValue::as_f32);
            let quant = result
                .first()
                .and_then(Option::as_ref)
                .and_then(TensorValue::as_f32);
            if let (Some(y), Some(yq)) = (float, quant) {
                for (&a, &b) in y.iter().zip(yq.iter()) {
                    signal[i] += f64::from(a).powi(2);
                    noise[i] += (f64::from(a) - f64::from(b)).powi(2);
                }
            }
        }
        start = stop;
    }
    Ok(signal
        .iter()
        .zip(&noise)
        .map(|(s, n)| 10.0 * (s / n).log10())
        .collect())
}

/// The gradient score of each layer: mean over `batches` training batches
/// (seeded order, `batch_size` samples) of sum((dL/dW * (W - Q(W)))^2),
/// with dL/dW from the training step at learning rate 0: cross-entropy
/// against the labels, or without labels against the model's own top-1
/// predictions (distilling from its own outputs would give a zero gradient
/// at the starting weights). NaN for a layer the step does not train.
///
/// # Errors
/// [`SensitivityError`] when the training step cannot be built or run.
pub fn gradient_scores(
    model: &Model,
    probed: &[ProbedLayer],
    data: &Dataset,
    batches: usize,
    batch_size: usize,
    seed: u64,
) -> Result<Vec<f64>, SensitivityError> {
    if data.len == 0 {
        return Err(SensitivityError::NoData);
    }
    let options = StepOptions {
        loss: Loss::CrossEntropy,
        ..StepOptions::default()
    };
    let step = training_step(model, &options)?;
    let plan = Plan::new(&step.model)?;
    let forward = Plan::new(model)?;
    let lr = TensorValue::F32(ndarray::arr0(0f32).into_dyn());
    let mut order = BatchOrder::new(data.len, batch_size, seed);
    let mut sums = vec![0f64; probed.len()];
    let batches = batches.max(1);
    for _ in 0..batches {
        let batch = order.next_batch();
        let mut feeds: Vec<(&str, TensorValue)> = data.gather(&batch);
        let labels: Vec<i64> = match &data.labels {
            Some(labels) => batch.iter().map(|&i| labels[i]).collect(),
            None => match forward.run(&feeds)?.into_iter().next() {
                Some(TensorValue::F32(logits)) if logits.ndim() == 2 => argmax_rows(&logits),
                _ => return Err(SensitivityError::NotClassifier),
            },
        };
        let target = TensorValue::I64(ndarray::Array1::from(labels).into_dyn());
        feeds.push((step.target_input.as_str(), target));
        feeds.push((step.learning_rate_input.as_str(), lr.clone()));
        let outputs = plan.run(&feeds)?;
        let named: HashMap<&str, TensorValue> =
            plan.output_names().into_iter().zip(outputs).collect();
        for (sum, p) in sums.iter_mut().zip(probed) {
            let Some(param) = step
                .params
                .iter()
                .find(|t| !t.is_bias && t.layer == Some(p.node))
            else {
                *sum = f64::NAN;
                continue;
            };
            let gradient = named.get(param.gradient.as_str()).ok_or_else(|| {
                SensitivityError::MissingOutput {
                    name: param.gradient.clone(),
                }
            })?;
            let Some(g) = gradient.as_f32().filter(|g| g.len() == p.weight.len()) else {
                *sum = f64::NAN;
                continue;
            };
            *sum += g
                .iter()
                .zip(p.weight.iter().zip(p.quantized.iter()))
                .map(|(&g, (&w, &q))| (f64::from(g) * (f64::from(w) - f64::from(q))).powi(2))
                .sum::<f64>();
        }
    }
    Ok(sums.into_iter().map(|s| s / batches as f64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularity_follows_lowering() {
        let gemm_t = Op::Gemm(wdq_ir::op::GemmAttrs {
            trans_b: Some(1),
            ..Default::default()
        });
        assert_eq!(
            weight_granularity(&gemm_t, 2, WeightGranularity::PerChannel),
            Granularity::PerChannel { axis: 0 }
        );
        assert_eq!(
            weight_granularity(&Op::MatMul, 2, WeightGranularity::PerChannel),
            Granularity::PerChannel { axis: 1 }
        );
        assert_eq!(
            weight_granularity(&Op::MatMul, 1, WeightGranularity::PerChannel),
            Granularity::PerTensor
        );
        assert_eq!(
            weight_granularity(&Op::MatMul, 2, WeightGranularity::PerTensor),
            Granularity::PerTensor
        );
    }
}

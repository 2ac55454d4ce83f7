//! Per-output-channel affine maps `y = scale[c] * x + shift[c]`: what a
//! BatchNormalization (inference form) or a Mul/Add/Sub/Div by a constant
//! computes after a Conv, ConvTranspose or Gemm, and how such a map is
//! folded into the layer's weight and bias. Arithmetic in f64, stored f32.

use std::sync::Arc;
use wdq_ir::{DType, Graph, Node, Op, Tensor, ValueId};

/// A per-channel affine map over `channels` output channels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Affine {
    pub scale: Vec<f64>,
    pub shift: Vec<f64>,
}

/// The output shape a folded layer produces: its rank, channel count and
/// channel axis (always 1: `[N, C, ...]` for Conv, `[M, N]` for Gemm).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LayerShape {
    pub rank: usize,
    pub channels: usize,
}

/// The f32 values of the constant behind `value`, with its shape.
fn float_const(graph: &Graph, value: ValueId) -> Option<(Vec<usize>, Vec<f32>)> {
    let (_, t) = graph.resolve_const(value)?;
    if t.dtype() != DType::F32 {
        return None;
    }
    Some((t.shape().to_vec(), t.as_f32()?.to_vec()))
}

/// The per-channel vector a constant of `shape` broadcasts to against an
/// output of `out` (channel axis 1), or `None` when it varies along another
/// axis or would broadcast the output to a larger shape.
fn per_channel(shape: &[usize], values: &[f32], out: LayerShape) -> Option<Vec<f64>> {
    if shape.len() > out.rank || values.is_empty() {
        return None;
    }
    let offset = out.rank - shape.len();
    let mut varies = false;
    for (i, &d) in shape.iter().enumerate() {
        match (offset + i == 1, d) {
            (_, 1) => {}
            (true, d) if d == out.channels => varies = true,
            _ => return None,
        }
    }
    Some(if varies {
        values.iter().map(|&v| f64::from(v)).collect()
    } else {
        vec![f64::from(values[0]); out.channels]
    })
}

/// A layer's bias as a per-channel vector: Conv/ConvTranspose `[C]`, Gemm's
/// `C` anything that broadcasts along the channel axis only.
pub(crate) fn per_channel_bias(
    op: &Op,
    shape: &[usize],
    values: &[f32],
    out: LayerShape,
) -> Option<Vec<f64>> {
    match op {
        Op::Gemm(_) => per_channel(shape, values, out),
        _ => (shape == [out.channels]).then(|| values.iter().map(|&v| f64::from(v)).collect()),
    }
}

/// The affine map `node` applies to `input` (its operand 0 for Sub/Div,
/// either operand for Mul/Add), if it is one.
pub(crate) fn affine_of(
    graph: &Graph,
    node: &Node,
    input: ValueId,
    out: LayerShape,
) -> Option<Affine> {
    let c = out.channels;
    let constant = |slot: usize| -> Option<Vec<f64>> {
        let (shape, values) = float_const(graph, node.input(slot)?)?;
        per_channel(&shape, &values, out)
    };
    let other = |slot: usize| if slot == 0 { 1 } else { 0 };
    let slot = node.inputs.iter().position(|i| *i == Some(input))?;
    let (scale, shift) = match &node.op {
        Op::BatchNormalization(a) if slot == 0 => {
            let training = a.training_mode.unwrap_or(0) != 0 || a.spatial.unwrap_or(1) == 0;
            let extra_outputs = node.outputs.iter().skip(1).any(Option::is_some);
            if training || extra_outputs {
                return None;
            }
            let vector = |slot: usize| -> Option<Vec<f64>> {
                let (shape, values) = float_const(graph, node.input(slot)?)?;
                (shape == [c]).then(|| values.iter().map(|&v| f64::from(v)).collect())
            };
            let (gamma, beta) = (vector(1)?, vector(2)?);
            let (mean, var) = (vector(3)?, vector(4)?);
            let eps = f64::from(a.epsilon.unwrap_or(1e-5));
            let scale: Vec<f64> = (0..c).map(|i| gamma[i] / (var[i] + eps).sqrt()).collect();
            let shift = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
            (scale, shift)
        }
        Op::Mul => (constant(other(slot))?, vec![0.0; c]),
        Op::Add => (vec![1.0; c], constant(other(slot))?),
        Op::Sub if slot == 0 => (vec![1.0; c], constant(1)?.iter().map(|v| -v).collect()),
        Op::Div if slot == 0 => {
            let d = constant(1)?;
            if d.contains(&0.0) {
                return None;
            }
            (d.iter().map(|v| 1.0 / v).collect(), vec![0.0; c])
        }
        _ => return None,
    };
    let finite = scale.iter().chain(&shift).all(|v| v.is_finite());
    finite.then_some(Affine { scale, shift })
}

/// The output channel of each element of a weight of `shape` read by `op`
/// (Conv `[M, C/g, k..]`, ConvTranspose `[C, M/g, k..]`, Gemm `[K, N]` or
/// `[N, K]` by `transB`).
pub(crate) fn channel_of(op: &Op, shape: &[usize]) -> Option<Vec<usize>> {
    let len: usize = shape.iter().product();
    let inner = |from: usize| shape[from..].iter().product::<usize>().max(1);
    match op {
        Op::Conv(_) if shape.len() >= 3 => Some((0..len).map(|i| i / inner(1)).collect()),
        Op::ConvTranspose(a) if shape.len() >= 3 => {
            let group = usize::try_from(a.group.unwrap_or(1)).ok()?.max(1);
            let per_group_in = shape[0] / group;
            if per_group_in == 0 || shape[0] % group != 0 {
                return None;
            }
            let (mg, k) = (shape[1], inner(2));
            Some(
                (0..len)
                    .map(|i| (i / (mg * k)) / per_group_in * mg + (i / k) % mg)
                    .collect(),
            )
        }
        Op::Gemm(a) if shape.len() == 2 => Some(if a.trans_b.unwrap_or(0) != 0 {
            (0..len).map(|i| i / shape[1]).collect()
        } else {
            (0..len).map(|i| i % shape[1]).collect()
        }),
        _ => None,
    }
}

/// The output shape of a layer reading a weight of `shape`.
pub(crate) fn layer_shape(op: &Op, shape: &[usize]) -> Option<LayerShape> {
    let channels = match op {
        Op::Conv(_) if shape.len() >= 3 => shape[0],
        Op::ConvTranspose(a) if shape.len() >= 3 => {
            shape[1] * usize::try_from(a.group.unwrap_or(1)).ok()?.max(1)
        }
        Op::Gemm(a) if shape.len() == 2 => shape[usize::from(a.trans_b.unwrap_or(0) == 0)],
        _ => return None,
    };
    let rank = if matches!(op, Op::Gemm(_)) {
        2
    } else {
        shape.len()
    };
    Some(LayerShape { rank, channels })
}

/// `weight` with each element scaled by its channel's factor.
pub(crate) fn scale_weight(weight: &[f32], channel: &[usize], affine: &Affine) -> Vec<f32> {
    weight
        .iter()
        .zip(channel)
        .map(|(&w, &c)| (f64::from(w) * affine.scale[c]) as f32)
        .collect()
}

/// The bias after the map: `scale * bias + shift` (`bias` is per channel,
/// zeros when the layer had none).
pub(crate) fn map_bias(bias: &[f64], affine: &Affine) -> Vec<f32> {
    bias.iter()
        .zip(affine.scale.iter().zip(&affine.shift))
        .map(|(&b, (&s, &t))| (b * s + t) as f32)
        .collect()
}

/// An f32 initializer tensor.
pub(crate) fn f32_tensor(shape: Vec<usize>, values: Vec<f32>) -> Arc<Tensor> {
    Arc::new(Tensor::from_f32(shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdq_ir::op::{ConvAttrs, GemmAttrs};

    #[test]
    fn per_channel_broadcasts_only_along_the_channel_axis() {
        let out = LayerShape {
            rank: 4,
            channels: 3,
        };
        let v = [1.0, 2.0, 3.0];
        assert_eq!(per_channel(&[3, 1, 1], &v, out), Some(vec![1.0, 2.0, 3.0]));
        assert_eq!(
            per_channel(&[1, 3, 1, 1], &v, out),
            Some(vec![1.0, 2.0, 3.0])
        );
        assert_eq!(per_channel(&[], &[2.0], out), Some(vec![2.0; 3]));
        assert_eq!(per_channel(&[3], &v, out), None, "last axis is W, not C");
        assert_eq!(per_channel(&[1, 1, 1, 1, 1], &[1.0], out), None);
    }

    #[test]
    fn channels_of_grouped_conv_transpose_and_gemm() {
        let ct = Op::ConvTranspose(ConvAttrs {
            group: Some(2),
            ..ConvAttrs::default()
        });
        // [C_in = 4, M/g = 2, 1, 1]: inputs 0,1 feed channels 0,1; 2,3 feed 2,3.
        assert_eq!(
            channel_of(&ct, &[4, 2, 1, 1]).unwrap(),
            vec![0, 1, 0, 1, 2, 3, 2, 3]
        );
        assert_eq!(layer_shape(&ct, &[4, 2, 1, 1]).unwrap().channels, 4);
        let gemm = Op::Gemm(GemmAttrs::default());
        assert_eq!(channel_of(&gemm, &[2, 3]).unwrap(), vec![0, 1, 2, 0, 1, 2]);
        let gemm_t = Op::Gemm(GemmAttrs {
            trans_b: Some(1),
            ..GemmAttrs::default()
        });
        assert_eq!(
            channel_of(&gemm_t, &[2, 3]).unwrap(),
            vec![0, 0, 0, 1, 1, 1]
        );
    }
}

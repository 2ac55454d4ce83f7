//! Gradients that move values back to where they came from: ReduceSumTo
//! (a broadcast gradient summed back to an operand's shape) and
//! IndexScatterGrad (the backward of every pure data-movement op).
//!
//! IndexScatterGrad runs the forward op itself on the element indices of
//! the differentiated input (an i64 "iota"; other data inputs listed as
//! masked become -1), so the forward output says, element by element,
//! which input element it copied, or -1 for padding and other inputs. The
//! output gradient is then scatter-added through that map in index order.
//! One kernel thus serves Slice, Gather, Pad (any mode), nearest Resize,
//! Tile, Expand, Concat, Split and Where, with exactly the forward's index
//! arithmetic.

use super::{expect_shape, slot};
use crate::kit::{contiguous, f32_input, required};
use crate::{KernelContext, KernelError, KernelResult, TensorValue};
use ndarray::{ArrayD, IxDyn};
use wdq_ir::op::PadAttrs;
use wdq_ir::Op;

/// Maps a row-major index of `out` to the row-major index of an operand of
/// shape `operand` broadcast (numpy rules) to `out`.
///
/// # Errors
/// [`KernelError::Broadcast`] when `operand` does not broadcast to `out`.
pub(crate) fn broadcast_index(
    out: &[usize],
    operand: &[usize],
) -> Result<impl Fn(usize) -> usize, KernelError> {
    let fits = operand.len() <= out.len()
        && operand
            .iter()
            .rev()
            .zip(out.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    if !fits {
        return Err(KernelError::Broadcast {
            a: operand.to_vec(),
            b: out.to_vec(),
        });
    }
    let lead = out.len() - operand.len();
    let mut strides = vec![0usize; out.len()];
    let mut step = 1;
    for i in (0..operand.len()).rev() {
        if operand[i] != 1 {
            strides[lead + i] = step;
        }
        step *= operand[i];
    }
    let dims: Vec<(usize, usize)> = out.iter().copied().zip(strides).collect();
    Ok(move |flat: usize| {
        let (mut rest, mut at) = (flat, 0);
        for &(n, s) in dims.iter().rev() {
            at += (rest % n) * s;
            rest /= n;
        }
        at
    })
}

/// Merged axes of `out` as (size, stride in the operand), outermost first:
/// adjacent axes merge when the operand's strides chain, so the innermost
/// run is as long as possible with stride 0 (summed) or 1 (added).
fn runs(out: &[usize], operand: &[usize]) -> Vec<(usize, usize)> {
    let lead = out.len() - operand.len();
    let mut strides = vec![0usize; out.len()];
    let mut step = 1;
    for i in (0..operand.len()).rev() {
        if operand[i] != 1 {
            strides[lead + i] = step;
        }
        step *= operand[i];
    }
    let mut axes: Vec<(usize, usize)> = Vec::with_capacity(out.len());
    for (&n, &s) in out.iter().zip(&strides) {
        if n == 1 {
            continue;
        }
        match axes.last_mut() {
            Some(last) if last.1 == s * n => *last = (last.0 * n, s),
            _ => axes.push((n, s)),
        }
    }
    if axes.is_empty() {
        axes.push((1, 0));
    }
    axes
}

/// ReduceSumTo: inputs `(G, operand)`; `G` summed over the axes on which
/// `operand` was broadcast, shaped like `operand`. Each innermost run is
/// summed in f32, runs are added in f64, all in index order.
pub(super) fn reduce_sum_to(inputs: &[Option<&TensorValue>]) -> KernelResult {
    let g = f32_input(inputs, 0)?;
    let like = required(inputs, 1)?.shape().to_vec();
    if g.shape() == like.as_slice() {
        return Ok(vec![Some(TensorValue::F32(g.clone()))]);
    }
    // Checks that the operand broadcasts to `G`.
    let _ = broadcast_index(g.shape(), &like)?;
    let axes = runs(g.shape(), &like);
    let (inner, inner_stride) = axes[axes.len() - 1];
    let outer = &axes[..axes.len() - 1];
    let gd = contiguous(g);
    let mut acc = vec![0.0f64; like.iter().product()];
    for (row, chunk) in gd.chunks(inner.max(1)).enumerate() {
        let (mut rest, mut at) = (row, 0);
        for &(n, s) in outer.iter().rev() {
            at += (rest % n) * s;
            rest /= n;
        }
        if inner_stride == 0 {
            acc[at] += chunk.iter().sum::<f32>() as f64;
        } else {
            for (a, &v) in acc[at..at + chunk.len()].iter_mut().zip(chunk) {
                *a += v as f64;
            }
        }
    }
    let out = acc.into_iter().map(|v| v as f32).collect();
    Ok(vec![slot(&like, Some(out))?])
}

fn filled(shape: &[usize], f: impl Fn(usize) -> i64) -> TensorValue {
    let n: usize = shape.iter().product();
    TensorValue::I64(
        ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect())
            .unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0]))),
    )
}

/// IndexScatterGrad: inputs `(dY, forward inputs...)`, output `dX` shaped
/// like forward input `wrt`.
pub(super) fn index_scatter_grad(
    op: &Op,
    wrt: usize,
    output: usize,
    outputs: usize,
    masked: &[usize],
    ctx: KernelContext,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let forward = &inputs[1.min(inputs.len())..];
    let target =
        required(forward, wrt).map_err(|_| KernelError::MissingInput { index: wrt + 1 })?;
    let target_shape = target.shape().to_vec();
    let mut replaced: Vec<Option<TensorValue>> = vec![None; forward.len()];
    replaced[wrt] = Some(filled(&target_shape, |i| i as i64));
    for &m in masked {
        if let Some(Some(v)) = forward.get(m) {
            replaced[m] = Some(filled(v.shape(), |_| -1));
        }
    }
    let args: Vec<Option<&TensorValue>> = forward
        .iter()
        .zip(&replaced)
        .map(|(orig, new)| new.as_ref().or(*orig))
        .collect();
    let op = match op {
        Op::Pad(a) => Op::Pad(PadAttrs {
            value: Some(-1.0),
            ..a.clone()
        }),
        other => other.clone(),
    };
    let results = crate::tensor_ops::run_with_outputs(&op, ctx, &args, Some(outputs))?;
    let map = match results.into_iter().nth(output).flatten() {
        Some(TensorValue::I64(a)) => a,
        Some(other) => {
            return Err(KernelError::Unsupported(format!(
                "{} backward: the forward op turned indices into {}",
                op.op_type(),
                other.dtype()
            )))
        }
        None => {
            return Err(KernelError::Unsupported(format!(
                "{} backward: output {output} was not produced",
                op.op_type()
            )))
        }
    };
    expect_shape(dy.shape(), map.shape(), "output gradient")?;
    let (g, m) = (contiguous(dy), contiguous(&map));
    let mut dx = vec![0.0f32; target_shape.iter().product()];
    for (&at, &v) in m.iter().zip(g.iter()) {
        if let Some(d) = usize::try_from(at).ok().and_then(|a| dx.get_mut(a)) {
            *d += v;
        }
    }
    Ok(vec![slot(&target_shape, Some(dx))?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(shape: &[usize], v: Vec<f32>) -> TensorValue {
        TensorValue::F32(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
    }

    #[test]
    fn reduce_sum_to_sums_broadcast_axes() {
        let g = f32s(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let like = f32s(&[3], vec![0.0; 3]);
        let out = reduce_sum_to(&[Some(&g), Some(&like)]).unwrap();
        let out = out[0].as_ref().unwrap().as_f32().unwrap();
        assert_eq!(out.iter().copied().collect::<Vec<_>>(), vec![5.0, 7.0, 9.0]);
        let col = f32s(&[2, 1], vec![0.0; 2]);
        let out = reduce_sum_to(&[Some(&g), Some(&col)]).unwrap();
        let out = out[0].as_ref().unwrap().as_f32().unwrap();
        assert_eq!(out.shape(), &[2, 1]);
        assert_eq!(out.iter().copied().collect::<Vec<_>>(), vec![6.0, 15.0]);
    }

    #[test]
    fn pad_gradient_drops_the_padding_and_reflect_adds_up() {
        let x = f32s(&[3], vec![0.0; 3]);
        let pads = TensorValue::I64(ArrayD::from_shape_vec(IxDyn(&[2]), vec![2, 1]).unwrap());
        let dy = f32s(&[6], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let run = |mode: &str| {
            let op = Op::Pad(PadAttrs {
                mode: Some(mode.into()),
                ..PadAttrs::default()
            });
            let ctx = KernelContext { opset: 13 };
            let out =
                index_scatter_grad(&op, 0, 0, 1, &[], ctx, &[Some(&dy), Some(&x), Some(&pads)])
                    .unwrap();
            out[0]
                .as_ref()
                .unwrap()
                .as_f32()
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(run("constant"), vec![3.0, 4.0, 5.0]);
        // reflect: [x2, x1 | x0, x1, x2 | x1]
        assert_eq!(run("reflect"), vec![3.0, 2.0 + 4.0 + 6.0, 1.0 + 5.0]);
    }
}

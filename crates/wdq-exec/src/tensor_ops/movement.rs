//! Data movement: Transpose, Concat, Split, Slice, Gather and Tile. The
//! planners (`*_shape`, `*_plan`, `split_sizes`) are shared with static
//! shape inference.

use crate::kit::{element_count, int_values, norm_axis, optional, reshaped};
use crate::tensor_ops::elem::{map_any, map_same, select_cartesian};
use crate::{KernelError, TensorValue};
use ndarray::{ArrayViewD, Axis, IxDyn, Slice};
use wdq_ir::op::{SliceAttrs, SplitAttrs};

/// Transpose's permutation: `perm`, or the reversed axes by default.
pub(crate) fn transpose_perm(rank: usize, perm: Option<&[i64]>) -> Result<Vec<usize>, KernelError> {
    let Some(perm) = perm else {
        return Ok((0..rank).rev().collect());
    };
    let bad = || KernelError::Attribute {
        name: "perm",
        why: format!("{perm:?} is not a permutation of {rank} axes"),
    };
    if perm.len() != rank {
        return Err(bad());
    }
    let mut seen = vec![false; rank];
    perm.iter()
        .map(|&p| {
            let p = usize::try_from(p)
                .ok()
                .filter(|&p| p < rank)
                .ok_or_else(bad)?;
            if std::mem::replace(&mut seen[p], true) {
                return Err(bad());
            }
            Ok(p)
        })
        .collect()
}

/// Transpose.
pub(crate) fn transpose(x: &TensorValue, perm: Option<&[i64]>) -> Result<TensorValue, KernelError> {
    let perm = transpose_perm(x.shape().len(), perm)?;
    Ok(map_any!(x, |a| a
        .view()
        .permuted_axes(IxDyn(&perm))
        .as_standard_layout()
        .into_owned()))
}

/// Concat's output shape and normalised axis.
pub(crate) fn concat_shape(
    shapes: &[&[usize]],
    axis: Option<i64>,
) -> Result<(usize, Vec<usize>), KernelError> {
    let first = shapes
        .first()
        .ok_or(KernelError::MissingInput { index: 0 })?;
    let axis = axis.ok_or(KernelError::Attribute {
        name: "axis",
        why: "Concat needs an axis".into(),
    })?;
    let axis = norm_axis(axis, first.len(), "axis")?;
    let mut out = first.to_vec();
    for (i, s) in shapes.iter().enumerate().skip(1) {
        let same_rest = s.len() == first.len()
            && s.iter()
                .zip(first.iter())
                .enumerate()
                .all(|(d, (a, b))| d == axis || a == b);
        if !same_rest {
            return Err(KernelError::Shape(format!(
                "Concat input {i} has shape {s:?}, input 0 has {first:?} (axis {axis})"
            )));
        }
        out[axis] += s[axis];
    }
    Ok((axis, out))
}

/// Concat.
pub(crate) fn concat(
    inputs: &[&TensorValue],
    axis: Option<i64>,
) -> Result<TensorValue, KernelError> {
    let shapes: Vec<&[usize]> = inputs.iter().map(|v| v.shape()).collect();
    let (axis, _) = concat_shape(&shapes, axis)?;
    let (first, rest) = inputs
        .split_first()
        .ok_or(KernelError::MissingInput { index: 0 })?;
    Ok(map_same!(*first, rest, 1, |a, others| {
        let views: Vec<ArrayViewD<'_, _>> = std::iter::once(a.view())
            .chain(others.iter().map(|o| o.view()))
            .collect();
        ndarray::concatenate(Axis(axis), &views)
            .map_err(|e| KernelError::Shape(format!("Concat: {e}")))?
    }))
}

/// Split's chunk sizes along its axis: the explicit `split` (attribute
/// before opset 13, input 1 after), else equal chunks over `num_outputs`
/// (attribute at opset 18, else the node's output count), the last smaller.
pub(crate) fn split_sizes(
    attrs: &SplitAttrs,
    inputs: &[Option<&TensorValue>],
    dim: usize,
    node_outputs: Option<usize>,
) -> Result<Vec<usize>, KernelError> {
    let explicit = match optional(inputs, 1) {
        Some(v) => Some(int_values(v, 1)?),
        None => attrs.split.clone(),
    };
    if let Some(split) = explicit.filter(|s| !s.is_empty()) {
        let sizes: Option<Vec<usize>> = split.iter().map(|&s| usize::try_from(s).ok()).collect();
        return match sizes {
            Some(s) if s.iter().sum::<usize>() == dim => Ok(s),
            _ => Err(KernelError::Attribute {
                name: "split",
                why: format!("{split:?} does not split a dimension of {dim}"),
            }),
        };
    }
    let n = match attrs.num_outputs {
        Some(n) => usize::try_from(n).ok(),
        None => node_outputs,
    };
    let n = n.filter(|&n| n > 0).ok_or(KernelError::Attribute {
        name: "num_outputs",
        why: "an equal Split needs the number of outputs (run it through \
              tensor_ops::run_with_outputs)"
            .into(),
    })?;
    let chunk = dim.div_ceil(n);
    Ok((0..n)
        .map(|i| chunk.min(dim.saturating_sub(i * chunk)))
        .collect())
}

/// Split: one tensor per chunk.
pub(crate) fn split(
    x: &TensorValue,
    axis: usize,
    sizes: &[usize],
) -> Result<Vec<TensorValue>, KernelError> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&len| {
            let range = Slice::from(start..start + len);
            start += len;
            Ok(map_any!(x, |a| a.slice_axis(Axis(axis), range).to_owned()))
        })
        .collect()
}

/// Slice's per-axis source indices (their lengths are the output shape).
/// Starts/ends are clamped per the ONNX spec, steps may be negative.
pub(crate) fn slice_plan(
    shape: &[usize],
    attrs: &SliceAttrs,
    inputs: &[Option<&TensorValue>],
    opset: i64,
) -> Result<Vec<Vec<usize>>, KernelError> {
    let (starts, ends, axes, steps) = if opset < 10 && optional(inputs, 1).is_none() {
        let missing = |name| KernelError::Attribute {
            name,
            why: "missing".into(),
        };
        let starts = attrs.starts.clone().ok_or_else(|| missing("starts"))?;
        let ends = attrs.ends.clone().ok_or_else(|| missing("ends"))?;
        (starts, ends, attrs.axes.clone(), None)
    } else {
        let get = |i: usize| -> Result<Option<Vec<i64>>, KernelError> {
            optional(inputs, i).map(|v| int_values(v, i)).transpose()
        };
        let starts = get(1)?.ok_or(KernelError::MissingInput { index: 1 })?;
        let ends = get(2)?.ok_or(KernelError::MissingInput { index: 2 })?;
        (starts, ends, get(3)?, get(4)?)
    };
    let n = starts.len();
    let axes = axes.unwrap_or_else(|| (0..n as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; n]);
    if ends.len() != n || axes.len() != n || steps.len() != n {
        return Err(KernelError::Shape(format!(
            "Slice starts/ends/axes/steps have lengths {n}/{}/{}/{}",
            ends.len(),
            axes.len(),
            steps.len()
        )));
    }
    let mut plan: Vec<Option<Vec<usize>>> = vec![None; shape.len()];
    for i in 0..n {
        let axis = norm_axis(axes[i], shape.len(), "axes")?;
        if plan[axis].is_some() {
            return Err(KernelError::Attribute {
                name: "axes",
                why: format!("axis {axis} is repeated"),
            });
        }
        plan[axis] = Some(slice_indices(shape[axis], starts[i], ends[i], steps[i])?);
    }
    Ok(plan
        .into_iter()
        .zip(shape)
        .map(|(p, &d)| p.unwrap_or_else(|| (0..d).collect()))
        .collect())
}

fn slice_indices(dim: usize, start: i64, end: i64, step: i64) -> Result<Vec<usize>, KernelError> {
    if step == 0 {
        return Err(KernelError::Attribute {
            name: "steps",
            why: "a step is 0".into(),
        });
    }
    let d = dim as i64;
    let adjust = |x: i64| if x < 0 { x.saturating_add(d) } else { x };
    let (start, end) = (adjust(start), adjust(end));
    let mut out = Vec::new();
    if step > 0 {
        let (mut i, end) = (start.clamp(0, d), end.clamp(0, d));
        while i < end {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    } else {
        let (mut i, end) = (start.clamp(0, d - 1), end.clamp(-1, d - 1));
        while i > end {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    }
    Ok(out)
}

/// Slice (or any per-axis index map without fill).
pub(crate) fn select(x: &TensorValue, plan: &[Vec<usize>]) -> Result<TensorValue, KernelError> {
    Ok(map_any!(x, |a| select_cartesian(
        a,
        plan,
        &Default::default()
    )?))
}

/// Gather's normalised axis and output shape.
pub(crate) fn gather_shape(
    data: &[usize],
    indices: &[usize],
    axis: Option<i64>,
) -> Result<(usize, Vec<usize>), KernelError> {
    let axis = norm_axis(axis.unwrap_or(0), data.len(), "axis")?;
    let mut out = data[..axis].to_vec();
    out.extend_from_slice(indices);
    out.extend_from_slice(&data[axis + 1..]);
    Ok((axis, out))
}

/// Gather: entries of `data` along `axis` at `indices` (negative counts from the end).
pub(crate) fn gather(
    data: &TensorValue,
    indices: &TensorValue,
    axis: Option<i64>,
) -> Result<TensorValue, KernelError> {
    let (axis, out_shape) = gather_shape(data.shape(), indices.shape(), axis)?;
    let dim = data.shape()[axis];
    let picked: Vec<usize> = int_values(indices, 1)?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + dim as i64 } else { i };
            usize::try_from(j).ok().filter(|&j| j < dim).ok_or_else(|| {
                KernelError::Shape(format!(
                    "Gather index {i} is out of range for axis {axis} of size {dim}"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut plan: Vec<Vec<usize>> = data.shape().iter().map(|&d| (0..d).collect()).collect();
    plan[axis] = picked;
    element_count(&out_shape)?;
    Ok(map_any!(data, |a| reshaped(
        &select_cartesian(a, &plan, &Default::default())?,
        &out_shape
    )?))
}

/// Tile's per-axis index map.
pub(crate) fn tile_plan(shape: &[usize], repeats: &[i64]) -> Result<Vec<Vec<usize>>, KernelError> {
    if repeats.len() != shape.len() {
        return Err(KernelError::Shape(format!(
            "Tile repeats {repeats:?} for a tensor of rank {}",
            shape.len()
        )));
    }
    let out: Vec<usize> = shape
        .iter()
        .zip(repeats)
        .map(|(&d, &r)| {
            usize::try_from(r)
                .ok()
                .and_then(|r| d.checked_mul(r))
                .ok_or_else(|| KernelError::Shape(format!("bad Tile repeat {r}")))
        })
        .collect::<Result<_, _>>()?;
    element_count(&out)?;
    Ok(out
        .iter()
        .zip(shape)
        .map(|(&n, &d)| (0..n).map(|j| j % d.max(1)).collect())
        .collect())
}

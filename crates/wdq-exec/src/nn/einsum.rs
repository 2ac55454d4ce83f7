//! Einsum on f32 for one or two operands: the forms exporters write
//! (batched matrix products, attention scores and values, transposes, sums
//! over an index, outer products, `...` batch axes); the equations refused
//! are [`wdq_ir::einsum`]'s.
//!
//! Every output element is one sum over the summed labels in index order,
//! so results are deterministic.

use crate::kit::{array, contiguous, element_count, f32_input, single};
use crate::{KernelError, KernelResult, TensorValue};
use std::collections::BTreeMap;
use wdq_ir::einsum::{Equation, Label};

fn attribute(e: wdq_ir::einsum::EquationError) -> KernelError {
    KernelError::Attribute {
        name: "equation",
        why: e.0,
    }
}

fn refuse(equation: &str, why: &str) -> KernelError {
    attribute(wdq_ir::einsum::EquationError(format!(
        "`{equation}`: {why}"
    )))
}

/// A label after `...` is expanded to as many axes as it stands for.
type Axis = (Label, usize);

/// The axes of a term for an operand of `rank`.
fn axes(term: &[Label], rank: usize, equation: &str) -> Result<Vec<Axis>, KernelError> {
    let letters = term.iter().filter(|l| **l != Label::Ellipsis).count();
    let has_ellipsis = term.contains(&Label::Ellipsis);
    if rank < letters || (!has_ellipsis && rank != letters) {
        return Err(refuse(
            equation,
            &format!("an operand of rank {rank} for {letters} labels"),
        ));
    }
    let extra = rank - letters;
    let mut out = Vec::with_capacity(rank);
    for l in term {
        match l {
            Label::Ellipsis => out.extend((0..extra).map(|i| (Label::Ellipsis, extra - 1 - i))),
            l => out.push((*l, 0)),
        }
    }
    Ok(out)
}

/// Runs Einsum.
///
/// # Errors
/// [`KernelError`] for a refused equation, operands that do not fit it, or
/// sizes of one label that differ.
pub(crate) fn einsum(equation: &str, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let eq = Equation::parse(equation).map_err(attribute)?;
    if inputs.len() != eq.inputs.len() {
        return Err(refuse(
            equation,
            &format!("{} operands for {} terms", inputs.len(), eq.inputs.len()),
        ));
    }
    let arrays: Vec<_> = (0..inputs.len())
        .map(|i| f32_input(inputs, i))
        .collect::<Result<_, _>>()?;
    let mut size: BTreeMap<Axis, usize> = BTreeMap::new();
    let mut operand_axes = Vec::new();
    for (t, a) in eq.inputs.iter().zip(&arrays) {
        let ax = axes(t, a.ndim(), equation)?;
        for (axis, &n) in ax.iter().zip(a.shape()) {
            match size.get(axis) {
                Some(&m) if m != n => {
                    return Err(refuse(
                        equation,
                        &format!("label {axis:?} has sizes {m} and {n}"),
                    ))
                }
                _ => {
                    size.insert(*axis, n);
                }
            }
        }
        operand_axes.push(ax);
    }
    let ellipsis_rank = size.keys().filter(|(l, _)| *l == Label::Ellipsis).count();
    let out_axes = axes(
        &eq.output,
        eq.output.iter().filter(|l| **l != Label::Ellipsis).count()
            + if eq.output.contains(&Label::Ellipsis) {
                ellipsis_rank
            } else {
                0
            },
        equation,
    )?;
    let summed: Vec<Axis> = size
        .keys()
        .filter(|a| !out_axes.contains(a))
        .copied()
        .collect();
    let out_shape: Vec<usize> = out_axes.iter().map(|a| size[a]).collect();
    let sum_shape: Vec<usize> = summed.iter().map(|a| size[a]).collect();
    // Strides of each operand along the output axes and the summed axes.
    let strides = |ax: &[Axis], shape: &[usize], of: &[Axis]| -> Vec<usize> {
        let mut st = vec![0usize; ax.len()];
        let mut acc = 1;
        for i in (0..ax.len()).rev() {
            st[i] = acc;
            acc *= shape[i];
        }
        of.iter()
            .map(|a| ax.iter().position(|b| b == a).map_or(0, |p| st[p]))
            .collect()
    };
    let data: Vec<_> = arrays.iter().map(|a| contiguous(a)).collect();
    let out_st: Vec<Vec<usize>> = operand_axes
        .iter()
        .zip(&arrays)
        .map(|(ax, a)| strides(ax, a.shape(), &out_axes))
        .collect();
    let sum_st: Vec<Vec<usize>> = operand_axes
        .iter()
        .zip(&arrays)
        .map(|(ax, a)| strides(ax, a.shape(), &summed))
        .collect();
    let n_out = element_count(&out_shape)?;
    let n_sum: usize = sum_shape.iter().product();
    let mut out = vec![0.0f32; n_out];
    let mut oi = vec![0usize; out_shape.len()];
    for o in out.iter_mut() {
        let base: Vec<usize> = out_st
            .iter()
            .map(|st| st.iter().zip(&oi).map(|(s, i)| s * i).sum())
            .collect();
        let mut si = vec![0usize; sum_shape.len()];
        let mut acc = 0.0f32;
        for _ in 0..n_sum {
            let mut p = 1.0f32;
            for (k, d) in data.iter().enumerate() {
                let off: usize = sum_st[k].iter().zip(&si).map(|(s, i)| s * i).sum();
                p *= d[base[k] + off];
            }
            acc += p;
            step(&mut si, &sum_shape);
        }
        *o = acc;
        step(&mut oi, &out_shape);
    }
    single(TensorValue::F32(array(&out_shape, out)?))
}

/// Advances a row-major multi-index.
fn step(index: &mut [usize], shape: &[usize]) {
    for i in (0..index.len()).rev() {
        index[i] += 1;
        if index[i] < shape[i] {
            return;
        }
        index[i] = 0;
    }
}

/// The output shape for operands of these shapes.
///
/// # Errors
/// As [`einsum`].
pub(crate) fn output_shape(
    equation: &str,
    shapes: &[Option<&[usize]>],
) -> Result<Option<Vec<usize>>, KernelError> {
    let eq = Equation::parse(equation).map_err(attribute)?;
    let Some(shapes) = shapes.iter().copied().collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    let mut size: BTreeMap<Axis, usize> = BTreeMap::new();
    for (t, s) in eq.inputs.iter().zip(&shapes) {
        for (axis, &n) in axes(t, s.len(), equation)?.iter().zip(s.iter()) {
            size.insert(*axis, n);
        }
    }
    let ell = size.keys().filter(|(l, _)| *l == Label::Ellipsis).count();
    let letters = eq.output.iter().filter(|l| **l != Label::Ellipsis).count();
    let rank = letters
        + if eq.output.contains(&Label::Ellipsis) {
            ell
        } else {
            0
        };
    Ok(Some(
        axes(&eq.output, rank, equation)?
            .iter()
            .map(|a| size.get(a).copied().unwrap_or(1))
            .collect(),
    ))
}

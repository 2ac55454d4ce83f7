//! Pad: constant, reflect, edge and wrap modes, negative pads (crop). Pads
//! and the constant are attributes before opset 11, inputs after; opset 18
//! adds the `axes` input.

use crate::kit::{int_values, norm_axis, optional};
use crate::tensor_ops::elem::{first_as_f64, map_any, select_cartesian, Elem, FILL};
use crate::{KernelError, TensorValue};
use wdq_ir::op::PadAttrs;

/// How Pad fills the new border.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PadMode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

impl PadMode {
    fn parse(mode: Option<&str>) -> Result<PadMode, KernelError> {
        Ok(match mode.unwrap_or("constant") {
            "constant" => PadMode::Constant,
            "reflect" => PadMode::Reflect,
            "edge" => PadMode::Edge,
            "wrap" => PadMode::Wrap,
            other => {
                return Err(KernelError::Attribute {
                    name: "mode",
                    why: format!("unknown mode `{other}`"),
                })
            }
        })
    }
}

/// Per-axis `(begin, end)` pad amounts for a tensor of rank `rank`.
pub(crate) fn pad_amounts(
    attrs: &PadAttrs,
    inputs: &[Option<&TensorValue>],
    rank: usize,
) -> Result<Vec<(i64, i64)>, KernelError> {
    let pads = match (optional(inputs, 1), &attrs.pads) {
        (Some(v), _) => int_values(v, 1)?,
        (None, Some(p)) => p.clone(),
        (None, None) => return Err(KernelError::MissingInput { index: 1 }),
    };
    let axes: Vec<usize> = match optional(inputs, 3) {
        Some(v) => int_values(v, 3)?
            .into_iter()
            .map(|a| norm_axis(a, rank, "axes"))
            .collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(KernelError::Shape(format!(
            "Pad has {} pads for {} axes",
            pads.len(),
            axes.len()
        )));
    }
    let mut out = vec![(0i64, 0i64); rank];
    for (i, &a) in axes.iter().enumerate() {
        out[a] = (pads[i], pads[i + axes.len()]);
    }
    Ok(out)
}

/// Pad's output shape.
pub(crate) fn padded_shape(
    shape: &[usize],
    amounts: &[(i64, i64)],
) -> Result<Vec<usize>, KernelError> {
    shape
        .iter()
        .zip(amounts)
        .map(|(&d, &(b, e))| {
            usize::try_from((d as i64).saturating_add(b).saturating_add(e)).map_err(|_| {
                KernelError::Shape(format!("pads ({b}, {e}) crop more than a dimension of {d}"))
            })
        })
        .collect()
}

fn axis_map(len: usize, begin: i64, end: i64, mode: PadMode) -> Result<Vec<usize>, KernelError> {
    let n = len as i64;
    let out_len = n + begin + end;
    (0..out_len.max(0))
        .map(|j| {
            let src = j - begin;
            if (0..n).contains(&src) {
                return Ok(src as usize);
            }
            if mode == PadMode::Constant {
                return Ok(FILL);
            }
            if n == 0 {
                return Err(KernelError::Shape(
                    "cannot pad an empty axis in this mode".into(),
                ));
            }
            Ok(match mode {
                PadMode::Edge => src.clamp(0, n - 1) as usize,
                PadMode::Wrap => src.rem_euclid(n) as usize,
                _ if n == 1 => 0,
                _ => {
                    let period = 2 * (n - 1);
                    let m = src.rem_euclid(period);
                    (if m >= n { period - m } else { m }) as usize
                }
            })
        })
        .collect()
}

/// Pad.
pub(crate) fn pad(
    attrs: &PadAttrs,
    inputs: &[Option<&TensorValue>],
    x: &TensorValue,
) -> Result<TensorValue, KernelError> {
    let mode = PadMode::parse(attrs.mode.as_deref())?;
    let amounts = pad_amounts(attrs, inputs, x.shape().len())?;
    crate::kit::element_count(&padded_shape(x.shape(), &amounts)?)?;
    let plan: Vec<Vec<usize>> = x
        .shape()
        .iter()
        .zip(&amounts)
        .map(|(&d, &(b, e))| axis_map(d, b, e, mode))
        .collect::<Result<_, _>>()?;
    let fill = match optional(inputs, 2) {
        Some(v) => first_as_f64(v).unwrap_or(0.0),
        None => f64::from(attrs.value.unwrap_or(0.0)),
    };
    fn padded<T: Elem>(
        a: &ndarray::ArrayD<T>,
        plan: &[Vec<usize>],
        fill: f64,
    ) -> Result<ndarray::ArrayD<T>, KernelError> {
        select_cartesian(a, plan, &T::from_f64(fill))
    }
    Ok(map_any!(x, |a| padded(a, &plan, fill)?))
}

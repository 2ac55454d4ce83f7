//! Resize: nearest (any element type) and N-linear (f32) interpolation with
//! the ONNX coordinate transformation modes, from scales or sizes. Opset 10
//! takes scales as input 1 (asymmetric coordinates, "simple" nearest
//! rounding); opset 11+ takes roi, scales, sizes as inputs 1..3.

use crate::kit::{float_values, norm_axis, optional};
use crate::tensor_ops::elem::{map_any, select_cartesian};
use crate::{KernelError, TensorValue};
use ndarray::{ArrayD, Axis, IxDyn, Zip};
use wdq_ir::op::ResizeAttrs;

/// Output shape and per-axis scale of a Resize.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ResizePlan {
    pub out_shape: Vec<usize>,
    pub scales: Vec<f32>,
}

fn present(v: Option<&TensorValue>) -> Option<&TensorValue> {
    v.filter(|t| !t.shape().contains(&0))
}

/// The output shape and scales of a Resize of `shape`.
pub(crate) fn resize_plan(
    attrs: &ResizeAttrs,
    inputs: &[Option<&TensorValue>],
    shape: &[usize],
    opset: i64,
) -> Result<ResizePlan, KernelError> {
    let rank = shape.len();
    let (scales_at, sizes_at) = if opset < 11 { (1, usize::MAX) } else { (2, 3) };
    let axes: Vec<usize> = match &attrs.axes {
        Some(a) => a
            .iter()
            .map(|&x| norm_axis(x, rank, "axes"))
            .collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    let mut scales = vec![1.0f32; rank];
    let mut out_shape = shape.to_vec();
    let scales_in = present(optional(inputs, scales_at));
    let sizes_in = present(optional(inputs, sizes_at));
    match (scales_in, sizes_in) {
        (Some(_), Some(_)) => {
            return Err(KernelError::Shape(
                "Resize takes scales or sizes, not both".into(),
            ))
        }
        (Some(s), None) => {
            let s = float_values(s, scales_at)?;
            if s.len() != axes.len() || s.iter().any(|&x| x.is_nan() || x <= 0.0 || x.is_infinite())
            {
                return Err(KernelError::Shape(format!(
                    "bad Resize scales {s:?} for axes {axes:?}"
                )));
            }
            for (&a, &x) in axes.iter().zip(&s) {
                scales[a] = x;
                out_shape[a] = (shape[a] as f32 * x).floor() as usize;
            }
        }
        (None, Some(z)) => {
            let sizes = crate::kit::int_values(z, sizes_at)?;
            if sizes.len() != axes.len() || sizes.iter().any(|&x| x < 0) {
                return Err(KernelError::Shape(format!(
                    "bad Resize sizes {sizes:?} for axes {axes:?}"
                )));
            }
            let ratio = |a: usize, n: i64| n as f32 / shape[a].max(1) as f32;
            let policy = attrs
                .keep_aspect_ratio_policy
                .as_deref()
                .unwrap_or("stretch");
            let pick = |f: fn(f32, f32) -> f32| {
                axes.iter()
                    .zip(&sizes)
                    .map(|(&a, &n)| ratio(a, n))
                    .reduce(f)
                    .unwrap_or(1.0)
            };
            let common = match policy {
                "stretch" => None,
                "not_larger" => Some(pick(f32::min)),
                "not_smaller" => Some(pick(f32::max)),
                other => {
                    return Err(KernelError::Attribute {
                        name: "keep_aspect_ratio_policy",
                        why: format!("unknown policy `{other}`"),
                    })
                }
            };
            for (&a, &n) in axes.iter().zip(&sizes) {
                match common {
                    None => {
                        scales[a] = ratio(a, n);
                        out_shape[a] = n as usize;
                    }
                    Some(s) => {
                        scales[a] = s;
                        out_shape[a] = (s * shape[a] as f32).round() as usize;
                    }
                }
            }
        }
        (None, None) => {
            return Err(KernelError::Shape("Resize needs scales or sizes".into()));
        }
    }
    crate::kit::element_count(&out_shape)?;
    Ok(ResizePlan { out_shape, scales })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rounding {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
    /// Opset 10: ceil when downsampling, else truncate.
    Simple,
}

fn source(mode: Coord, j: usize, scale: f32, len_in: usize, len_out: usize) -> f32 {
    let x = j as f32;
    match mode {
        Coord::HalfPixel => (x + 0.5) / scale - 0.5,
        Coord::HalfPixelSymmetric => {
            let adjust = len_out as f32 / (scale * len_in as f32);
            let offset = len_in as f32 / 2.0 * (1.0 - adjust);
            offset + (x + 0.5) / scale - 0.5
        }
        Coord::PytorchHalfPixel if len_out > 1 => (x + 0.5) / scale - 0.5,
        Coord::PytorchHalfPixel => 0.0,
        Coord::AlignCorners if len_out > 1 => x * (len_in as f32 - 1.0) / (len_out as f32 - 1.0),
        Coord::AlignCorners => 0.0,
        Coord::Asymmetric => x / scale,
        Coord::TfHalfPixelForNn => (x + 0.5) / scale,
    }
}

fn round(mode: Rounding, x: f32, scale: f32) -> f32 {
    let tie = x == x.floor() + 0.5;
    match mode {
        Rounding::PreferFloor if tie => x.floor(),
        Rounding::PreferCeil if tie => x.ceil(),
        Rounding::PreferFloor | Rounding::PreferCeil => x.round(),
        Rounding::Floor => x.floor(),
        Rounding::Ceil => x.ceil(),
        Rounding::Simple if scale < 1.0 => x.ceil(),
        Rounding::Simple => x.trunc(),
    }
}

fn parse_modes(attrs: &ResizeAttrs, opset: i64) -> Result<(Coord, Rounding), KernelError> {
    let coord = match attrs.coordinate_transformation_mode.as_deref() {
        None if opset < 11 => Coord::Asymmetric,
        None | Some("half_pixel") => Coord::HalfPixel,
        Some("half_pixel_symmetric") => Coord::HalfPixelSymmetric,
        Some("pytorch_half_pixel") => Coord::PytorchHalfPixel,
        Some("align_corners") => Coord::AlignCorners,
        Some("asymmetric") => Coord::Asymmetric,
        Some("tf_half_pixel_for_nn") => Coord::TfHalfPixelForNn,
        Some(other) => {
            return Err(KernelError::Unsupported(format!(
                "Resize coordinate_transformation_mode `{other}`"
            )))
        }
    };
    let rounding = match attrs.nearest_mode.as_deref() {
        None if opset < 11 => Rounding::Simple,
        None | Some("round_prefer_floor") => Rounding::PreferFloor,
        Some("round_prefer_ceil") => Rounding::PreferCeil,
        Some("floor") => Rounding::Floor,
        Some("ceil") => Rounding::Ceil,
        Some(other) => {
            return Err(KernelError::Attribute {
                name: "nearest_mode",
                why: format!("unknown mode `{other}`"),
            })
        }
    };
    Ok((coord, rounding))
}

/// Resize.
pub(crate) fn resize(
    attrs: &ResizeAttrs,
    inputs: &[Option<&TensorValue>],
    x: &TensorValue,
    opset: i64,
) -> Result<TensorValue, KernelError> {
    if attrs.antialias.unwrap_or(0) != 0 {
        return Err(KernelError::Unsupported("Resize with antialias".into()));
    }
    let plan = resize_plan(attrs, inputs, x.shape(), opset)?;
    let (coord, rounding) = parse_modes(attrs, opset)?;
    let shape = x.shape().to_vec();
    if shape
        .iter()
        .zip(&plan.out_shape)
        .any(|(&i, &o)| i == 0 && o > 0)
    {
        return Err(KernelError::Shape(format!(
            "cannot resize the empty shape {shape:?}"
        )));
    }
    match attrs.mode.as_deref().unwrap_or("nearest") {
        "nearest" => {
            let map: Vec<Vec<usize>> = (0..shape.len())
                .map(|a| {
                    let (n, o, s) = (shape[a], plan.out_shape[a], plan.scales[a]);
                    (0..o)
                        .map(|j| {
                            let r = round(rounding, source(coord, j, s, n, o), s);
                            r.clamp(0.0, n.saturating_sub(1) as f32) as usize
                        })
                        .collect()
                })
                .collect();
            Ok(map_any!(x, |a| select_cartesian(
                a,
                &map,
                &Default::default()
            )?))
        }
        mode @ ("linear" | "cubic") => {
            let TensorValue::F32(a) = x else {
                return Err(KernelError::InputType {
                    index: 0,
                    got: x.dtype(),
                    expected: "f32 for linear and cubic Resize",
                });
            };
            let cubic = Cubic {
                a: attrs.cubic_coeff_a.unwrap_or(-0.75),
                exclude_outside: attrs.exclude_outside.unwrap_or(0) != 0,
            };
            let mut out = a.clone();
            for axis in 0..shape.len() {
                let (n, o, s) = (shape[axis], plan.out_shape[axis], plan.scales[axis]);
                if n == o && s == 1.0 {
                    continue;
                }
                let at = |j| source(coord, j, s, n, o);
                out = if mode == "linear" {
                    linear_axis(&out, axis, o, at)
                } else {
                    cubic_axis(&out, axis, o, at, cubic)
                };
            }
            Ok(TensorValue::F32(out))
        }
        other => Err(KernelError::Unsupported(format!("Resize mode `{other}`"))),
    }
}

fn linear_axis(
    a: &ArrayD<f32>,
    axis: usize,
    len_out: usize,
    coord: impl Fn(usize) -> f32,
) -> ArrayD<f32> {
    let len_in = a.shape()[axis];
    let mut shape = a.shape().to_vec();
    shape[axis] = len_out;
    let mut out = ArrayD::zeros(IxDyn(&shape));
    if len_in == 0 {
        return out;
    }
    let last = len_in - 1;
    for j in 0..len_out {
        let x = coord(j).clamp(0.0, last as f32);
        let x0 = (x as usize).min(last);
        let x1 = (x0 + 1).min(last);
        let w1 = x - x0 as f32;
        let w0 = 1.0 - w1;
        Zip::from(out.index_axis_mut(Axis(axis), j))
            .and(a.index_axis(Axis(axis), x0))
            .and(a.index_axis(Axis(axis), x1))
            .for_each(|o, &p, &q| *o = p * w0 + q * w1);
    }
    out
}

/// Cubic convolution parameters (Keys' kernel with coefficient `a`).
#[derive(Clone, Copy, Debug)]
struct Cubic {
    a: f32,
    exclude_outside: bool,
}

impl Cubic {
    /// The four source taps around `x` and their weights; taps outside the
    /// input are clamped to the edge, or dropped (and the weights
    /// renormalised) with `exclude_outside`.
    fn taps(self, x: f32, len_in: usize) -> [(usize, f32); 4] {
        let a = self.a;
        let base = x.floor();
        let t = x - base;
        let far = |d: f32| ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a;
        let near = |d: f32| ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0;
        let weights = [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)];
        let last = len_in as i64 - 1;
        let mut taps = [(0usize, 0.0f32); 4];
        let mut total = 0.0;
        for (k, w) in weights.into_iter().enumerate() {
            let i = base as i64 - 1 + k as i64;
            let inside = (0..=last).contains(&i);
            let w = if self.exclude_outside && !inside {
                0.0
            } else {
                w
            };
            taps[k] = (i.clamp(0, last.max(0)) as usize, w);
            total += w;
        }
        if self.exclude_outside && total != 0.0 {
            for tap in &mut taps {
                tap.1 /= total;
            }
        }
        taps
    }
}

fn cubic_axis(
    a: &ArrayD<f32>,
    axis: usize,
    len_out: usize,
    coord: impl Fn(usize) -> f32,
    cubic: Cubic,
) -> ArrayD<f32> {
    let len_in = a.shape()[axis];
    let mut shape = a.shape().to_vec();
    shape[axis] = len_out;
    let mut out = ArrayD::zeros(IxDyn(&shape));
    if len_in == 0 {
        return out;
    }
    for j in 0..len_out {
        let mut row = out.index_axis_mut(Axis(axis), j);
        for (i, w) in cubic.taps(coord(j), len_in) {
            Zip::from(&mut row)
                .and(a.index_axis(Axis(axis), i))
                .for_each(|o, &p| *o += w * p);
        }
    }
    out
}

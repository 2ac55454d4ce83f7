//! Elementwise unary ops: activations (Relu, LeakyRelu, Sigmoid, Tanh,
//! HardSigmoid, HardSwish, Gelu, Clip, Elu, Selu, Celu, Softplus,
//! Softsign, Shrink, Sign) and math (Erf, Exp, Log, Sqrt, Neg,
//! Abs, Floor, Ceil, Reciprocal), on f32; Relu, Neg, Abs and Clip on i64 too.
//!
//! Clip reads its bounds from attributes before opset 11 and from optional
//! inputs 1 and 2 from opset 11 on.

use super::parallel::chunks;
use crate::kit::{array, contiguous, required, single, PARALLEL_MIN};
use crate::{KernelContext, KernelError, KernelResult, TensorValue};
use ndarray::ArrayD;
use wdq_ir::grad_op::{SELU_ALPHA, SELU_GAMMA};
use wdq_ir::Op;

/// Maps `f` over the elements in row-major order (in parallel when large).
pub(crate) fn map<T, F>(a: &ArrayD<T>, f: F) -> Result<ArrayD<T>, KernelError>
where
    T: Copy + Send + Sync + Default,
    F: Fn(T) -> T + Sync,
{
    let src = contiguous(a);
    let mut out = vec![T::default(); src.len()];
    chunks(&mut out, PARALLEL_MIN, src.len(), |i, o| {
        for (o, &x) in o.iter_mut().zip(&src[i * PARALLEL_MIN..]) {
            *o = f(x);
        }
    });
    array(a.shape(), out)
}

/// The error function, to about 1e-7 relative (f64 inside).
pub(crate) fn erf(x: f32) -> f32 {
    erf64(x as f64) as f32
}

/// The error function in f64, to about 1e-7 relative: a Taylor series
/// below 0.5, Numerical Recipes' erfc (fractional error < 1.2e-7) above.
/// The one definition the forward kernels and the gradients use.
pub(crate) fn erf64(x: f64) -> f64 {
    let z = x.abs();
    if z < 0.5 {
        // Taylor series: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
        let (x2, mut term, mut sum) = (x * x, x, x);
        for n in 1..12 {
            term *= -x2 / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        return sum * std::f64::consts::FRAC_2_SQRT_PI;
    }
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^x)` without overflow for large `x`.
fn softplus(x: f32) -> f32 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

fn gelu_tanh(x: f32) -> f32 {
    let c = (2.0f32 / std::f32::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

fn scalar_bound<'a>(
    inputs: &[Option<&'a TensorValue>],
    index: usize,
) -> Result<Option<&'a TensorValue>, KernelError> {
    match inputs.get(index).copied().flatten() {
        None => Ok(None),
        Some(v) if v.shape().iter().product::<usize>() == 1 => Ok(Some(v)),
        Some(v) => Err(KernelError::Shape(format!(
            "Clip bound {index} has shape {:?}, expected a scalar",
            v.shape()
        ))),
    }
}

fn clip(
    attrs: &wdq_ir::op::ClipAttrs,
    ctx: KernelContext,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let x = required(inputs, 0)?;
    let lo = scalar_bound(inputs, 1)?;
    let hi = scalar_bound(inputs, 2)?;
    match x {
        TensorValue::F32(a) => {
            let bound = |v: Option<&TensorValue>,
                         attr: Option<f32>,
                         default: f32,
                         index: usize|
             -> Result<f32, KernelError> {
                if ctx.opset < 11 {
                    return Ok(attr.unwrap_or(default));
                }
                match v {
                    None => Ok(default),
                    Some(TensorValue::F32(b)) => Ok(b.iter().next().copied().unwrap_or(default)),
                    Some(other) => Err(KernelError::InputType {
                        index,
                        got: other.dtype(),
                        expected: "f32",
                    }),
                }
            };
            let lo = bound(lo, attrs.min, f32::MIN, 1)?;
            let hi = bound(hi, attrs.max, f32::MAX, 2)?;
            single(TensorValue::F32(map(a, move |v: f32| {
                if v.is_nan() {
                    v
                } else {
                    v.max(lo).min(hi)
                }
            })?))
        }
        TensorValue::I64(a) => {
            let bound = |v: Option<&TensorValue>,
                         default: i64,
                         index: usize|
             -> Result<i64, KernelError> {
                match v {
                    None => Ok(default),
                    Some(TensorValue::I64(b)) => Ok(b.iter().next().copied().unwrap_or(default)),
                    Some(other) => Err(KernelError::InputType {
                        index,
                        got: other.dtype(),
                        expected: "i64",
                    }),
                }
            };
            let lo = bound(lo, i64::MIN, 1)?;
            let hi = bound(hi, i64::MAX, 2)?;
            single(TensorValue::I64(map(a, move |v: i64| v.max(lo).min(hi))?))
        }
        other => Err(KernelError::InputType {
            index: 0,
            got: other.dtype(),
            expected: "f32 or i64",
        }),
    }
}

/// Runs one elementwise unary op.
pub(super) fn run(op: &Op, ctx: KernelContext, inputs: &[Option<&TensorValue>]) -> KernelResult {
    if let Op::Clip(attrs) = op {
        return clip(attrs, ctx, inputs);
    }
    let x = required(inputs, 0)?;
    if let TensorValue::I64(a) = x {
        let f: fn(i64) -> i64 = match op {
            Op::Relu => |v| v.max(0),
            Op::Neg => i64::wrapping_neg,
            Op::Abs => i64::wrapping_abs,
            _ => {
                return Err(KernelError::InputType {
                    index: 0,
                    got: x.dtype(),
                    expected: "f32",
                })
            }
        };
        return single(TensorValue::I64(map(a, f)?));
    }
    let a = x.as_f32().ok_or(KernelError::InputType {
        index: 0,
        got: x.dtype(),
        expected: "f32",
    })?;
    let out = match op {
        Op::Relu => map(a, |v: f32| if v > 0.0 { v } else { 0.0 }),
        Op::LeakyRelu(at) => {
            let alpha = at.alpha.unwrap_or(0.01);
            map(a, move |v: f32| if v >= 0.0 { v } else { alpha * v })
        }
        Op::Sigmoid => map(a, sigmoid),
        Op::Tanh => map(a, f32::tanh),
        Op::HardSigmoid(at) => {
            let (alpha, beta) = (at.alpha.unwrap_or(0.2), at.beta.unwrap_or(0.5));
            map(a, move |v: f32| (alpha * v + beta).clamp(0.0, 1.0))
        }
        Op::HardSwish => map(a, |v: f32| v * (v / 6.0 + 0.5).clamp(0.0, 1.0)),
        Op::Erf => map(a, erf),
        Op::Gelu(at) => match at.approximate.as_deref().unwrap_or("none") {
            "none" => map(a, |v: f32| {
                0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2))
            }),
            "tanh" => map(a, gelu_tanh),
            other => Err(KernelError::Attribute {
                name: "approximate",
                why: format!("unknown mode {other:?}"),
            }),
        },
        Op::Elu(at) => {
            let alpha = at.alpha.unwrap_or(1.0);
            map(
                a,
                move |v: f32| if v >= 0.0 { v } else { alpha * v.exp_m1() },
            )
        }
        Op::Selu(at) => {
            let alpha = at.alpha.unwrap_or(SELU_ALPHA);
            let gamma = at.gamma.unwrap_or(SELU_GAMMA);
            map(a, move |v: f32| {
                if v > 0.0 {
                    gamma * v
                } else {
                    gamma * alpha * v.exp_m1()
                }
            })
        }
        Op::Celu(at) => {
            let alpha = at.alpha.unwrap_or(1.0);
            map(a, move |v: f32| {
                v.max(0.0) + (alpha * (v / alpha).exp_m1()).min(0.0)
            })
        }
        Op::Softplus => map(a, softplus),
        Op::Softsign => map(a, |v: f32| v / (1.0 + v.abs())),
        Op::Shrink(at) => {
            let (lambd, bias) = (at.lambd.unwrap_or(0.5), at.bias.unwrap_or(0.0));
            map(a, move |v: f32| {
                if v < -lambd {
                    v + bias
                } else if v > lambd {
                    v - bias
                } else {
                    0.0
                }
            })
        }
        Op::Sign => map(a, |v: f32| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }),
        Op::Exp => map(a, f32::exp),
        Op::Log => map(a, f32::ln),
        Op::Sqrt => map(a, f32::sqrt),
        Op::Neg => map(a, |v: f32| -v),
        Op::Abs => map(a, f32::abs),
        Op::Floor => map(a, f32::floor),
        Op::Ceil => map(a, f32::ceil),
        Op::Reciprocal => map(a, |v: f32| 1.0 / v),
        other => Err(KernelError::Unsupported(format!(
            "{} as a unary op",
            other.op_type()
        ))),
    }?;
    single(TensorValue::F32(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_reference_values() {
        for &(x, want) in &[
            (0.0f32, 0.0f64),
            (0.1, 0.1124629160182849),
            (0.49, 0.511668261188523),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (-2.0, -0.9953222650189527),
            (3.5, 0.9999992569016276),
        ] {
            let got = erf(x) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1e-3),
                "erf({x}) = {got}, want {want}"
            );
        }
    }
}

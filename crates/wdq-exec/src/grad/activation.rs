//! Elementwise activation backward (`dX = dY * f'(X)`) and PRelu backward.
//!
//! Derivatives at kinks follow PyTorch: Relu 0 at 0, LeakyRelu 1 at 0,
//! Abs 0 at 0, Elu/Selu/Celu take the left slope at 0, Shrink 0 at
//! `|x| = lambd`, Sign 0 everywhere, Clip passes the gradient where `min <= x <= max`,
//! HardSigmoid and HardSwish use their one-sided interior slopes.

use super::{expect_shape, slot};
use crate::kit::{contiguous, f32_input, PARALLEL_MIN};
use crate::nn::activation::erf64 as erf;
use crate::{KernelError, KernelResult, TensorValue};
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};
use wdq_ir::grad_op::{Activation, Wanted};

fn scalar(inputs: &[Option<&TensorValue>], index: usize) -> Result<Option<f32>, KernelError> {
    match inputs.get(index).copied().flatten() {
        None => Ok(None),
        Some(TensorValue::F32(a)) if a.len() == 1 => Ok(a.iter().next().copied()),
        Some(v) => Err(KernelError::InputType {
            index,
            got: v.dtype(),
            expected: "an f32 scalar",
        }),
    }
}

/// The derivative of `act` at `x`.
fn derivative(act: &Activation, lo: f32, hi: f32) -> impl Fn(f32) -> f32 + Sync + '_ {
    move |x: f32| -> f32 {
        match act {
            Activation::Relu => (x > 0.0) as u8 as f32,
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    1.0
                } else {
                    *alpha
                }
            }
            Activation::Sigmoid => {
                let s = 1.0 / (1.0 + (-x as f64).exp());
                (s * (1.0 - s)) as f32
            }
            Activation::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Activation::HardSigmoid { alpha, beta } => {
                let v = alpha * x + beta;
                if v > 0.0 && v < 1.0 {
                    *alpha
                } else {
                    0.0
                }
            }
            Activation::HardSwish => {
                if x < -3.0 {
                    0.0
                } else if x <= 3.0 {
                    x / 3.0 + 0.5
                } else {
                    1.0
                }
            }
            Activation::Erf => {
                let x = x as f64;
                (std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp()) as f32
            }
            Activation::Gelu { tanh: false } => {
                let x = x as f64;
                let cdf = 0.5 * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2));
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (cdf + x * pdf) as f32
            }
            Activation::Gelu { tanh: true } => {
                let x = x as f64;
                let c = (2.0 / std::f64::consts::PI).sqrt();
                let t = (c * (x + 0.044715 * x * x * x)).tanh();
                (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x))
                    as f32
            }
            Activation::Abs => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Activation::Clip { .. } => (x >= lo && x <= hi) as u8 as f32,
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha * x.exp()
                }
            }
            Activation::Selu { alpha, gamma } => {
                if x > 0.0 {
                    *gamma
                } else {
                    gamma * alpha * x.exp()
                }
            }
            Activation::Celu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    (x / alpha).exp()
                }
            }
            Activation::Softplus => (1.0 / (1.0 + (-x as f64).exp())) as f32,
            Activation::Softsign => 1.0 / ((1.0 + x.abs()) * (1.0 + x.abs())),
            Activation::Shrink { lambd } => (x.abs() > *lambd) as u8 as f32,
            Activation::Sign => 0.0,
        }
    }
}

/// ActivationGrad: inputs `(dY, X)` (and Clip's `min`, `max` as inputs 2
/// and 3 when the op carries no bounds), output `dX`.
pub(super) fn activation_grad(act: &Activation, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    expect_shape(dy.shape(), x.shape(), "activation output gradient")?;
    let (lo, hi) = match act {
        Activation::Clip { min, max } => (
            min.or(scalar(inputs, 2)?).unwrap_or(f32::MIN),
            max.or(scalar(inputs, 3)?).unwrap_or(f32::MAX),
        ),
        _ => (f32::MIN, f32::MAX),
    };
    let f = derivative(act, lo, hi);
    let (g, xs) = (contiguous(dy), contiguous(x));
    let mut out = vec![0.0f32; xs.len()];
    let chunk = PARALLEL_MIN;
    out.par_chunks_mut(chunk).enumerate().for_each(|(i, o)| {
        let base = i * chunk;
        for (j, o) in o.iter_mut().enumerate() {
            *o = g[base + j] * f(xs[base + j]);
        }
    });
    Ok(vec![slot(x.shape(), Some(out))?])
}

/// The slope's shape as the forward PRelu reads it against `x`.
fn slope_shape(x: &[usize], s: &[usize]) -> Vec<usize> {
    let numpy_ok = s.len() <= x.len()
        && s.iter()
            .rev()
            .zip(x.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    if s.len() == 1 && x.len() >= 3 && s[0] == x[1] && !numpy_ok {
        let mut out = s.to_vec();
        out.resize(x.len() - 1, 1);
        return out;
    }
    s.to_vec()
}

/// PReluGrad: inputs `(dY, X, slope)`, outputs `(dX, dSlope)` as wanted.
pub(super) fn prelu_grad(wanted: Wanted, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let x = f32_input(inputs, 1)?;
    let slope = f32_input(inputs, 2)?;
    expect_shape(dy.shape(), x.shape(), "PRelu output gradient")?;
    let s_shape = slope_shape(x.shape(), slope.shape());
    let index = super::scatter::broadcast_index(x.shape(), &s_shape)?;
    let (g, xs, ss) = (contiguous(dy), contiguous(x), contiguous(slope));
    let dx = wanted.get(0).then(|| {
        (0..xs.len())
            .map(|i| {
                if xs[i] < 0.0 {
                    ss[index(i)] * g[i]
                } else {
                    g[i]
                }
            })
            .collect::<Vec<f32>>()
    });
    let ds = wanted.get(1).then(|| {
        let mut acc = vec![0.0f64; ss.len()];
        for i in 0..xs.len() {
            if xs[i] < 0.0 {
                acc[index(i)] += (xs[i] * g[i]) as f64;
            }
        }
        acc.into_iter().map(|v| v as f32).collect::<Vec<f32>>()
    });
    Ok(vec![slot(x.shape(), dx)?, slot(slope.shape(), ds)?])
}

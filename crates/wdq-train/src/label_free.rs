//! Fine-tuning without labels: the original model is the teacher, and the
//! loss is chosen so that its gradient is not zero at the start.
//!
//! Distilling a model towards its own outputs on the same inputs starts at
//! the loss's minimum: every gradient is zero and the drift only reflects
//! rounding. Each [`LabelFree`] loss moves the target or the input away
//! from that point:
//!
//! - [`LabelFree::PseudoLabels`]: cross-entropy against the teacher's
//!   argmax, computed once before training (classifiers: first output
//!   `[N, C]`, C > 1). The teacher's own softmax is not one-hot, so the
//!   gradient is the same one labelled training has wherever the model is
//!   right.
//! - [`LabelFree::InputNoise`]: mean square error to the teacher's outputs on
//!   the clean inputs while the student sees the inputs plus Gaussian noise
//!   (`sigma` times each input array's standard deviation), drawn anew for
//!   every step from the seed. Works on any float output.
//! - [`LabelFree::TargetNoise`]: mean square error to the teacher's outputs
//!   plus Gaussian noise (`sigma` times the output's standard deviation),
//!   drawn once.
//! - [`LabelFree::Distill`]: the plain self-distillation (KL on softmax for
//!   `[N, C]`, MSE otherwise), kept for comparison: its gradients start at
//!   zero.

use crate::{Dataset, TrainError};
use ndarray::{ArrayD, Axis};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use wdq_autodiff::{DistillKind, Loss};
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;

/// The loss used when the training data has no labels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LabelFree {
    /// Pseudo-labels for classifier outputs (`[N, C]` or `[N, C, 1, ..]`, C > 1), input noise
    /// with sigma 0.1 otherwise: the best measured (see the README).
    Auto,
    PseudoLabels,
    InputNoise {
        sigma: f32,
    },
    TargetNoise {
        sigma: f32,
    },
    Distill,
}

/// The input-noise sigma of [`LabelFree::Auto`] on non-classifier outputs.
pub const DEFAULT_INPUT_NOISE: f32 = 0.1;

impl LabelFree {
    /// The CLI spelling: `auto`, `pseudo-labels`, `input-noise[:SIGMA]`,
    /// `target-noise[:SIGMA]`, `distill`.
    pub fn parse(text: &str) -> Option<LabelFree> {
        let sigma = |s: &str| s.parse::<f32>().ok().filter(|v| v.is_finite() && *v > 0.0);
        Some(match text.split_once(':') {
            None if text == "auto" => LabelFree::Auto,
            None if text == "pseudo-labels" => LabelFree::PseudoLabels,
            None if text == "distill" => LabelFree::Distill,
            None if text == "input-noise" => LabelFree::InputNoise {
                sigma: DEFAULT_INPUT_NOISE,
            },
            None if text == "target-noise" => LabelFree::TargetNoise {
                sigma: DEFAULT_INPUT_NOISE,
            },
            Some(("input-noise", s)) => LabelFree::InputNoise { sigma: sigma(s)? },
            Some(("target-noise", s)) => LabelFree::TargetNoise { sigma: sigma(s)? },
            _ => return None,
        })
    }
}

/// Targets, loss and per-input noise scales for fine-tuning without labels.
pub(crate) struct Teacher {
    pub loss: Loss,
    pub targets: TensorValue,
    /// Standard deviation of the noise added to each input (in `data.inputs`
    /// order; 0: none).
    pub input_noise: Vec<f32>,
    pub description: String,
}

/// Runs the original model (`forward`) over `data` and builds the targets
/// of `choice`.
pub(crate) fn teacher(
    forward: &Plan,
    data: &Dataset,
    batch_size: usize,
    choice: LabelFree,
    seed: u64,
) -> Result<Teacher, TrainError> {
    let all = teacher_outputs(forward, data, batch_size)?;
    // [N, C] scores, or [N, C, 1, ..] (a convolutional head).
    let classifier =
        all.ndim() >= 2 && all.shape()[1] > 1 && all.shape()[2..].iter().all(|&d| d == 1);
    let choice = match choice {
        LabelFree::Auto if classifier => LabelFree::PseudoLabels,
        LabelFree::Auto => LabelFree::InputNoise {
            sigma: DEFAULT_INPUT_NOISE,
        },
        LabelFree::PseudoLabels if !classifier => {
            return Err(TrainError::PseudoLabels {
                shape: all.shape().to_vec(),
            })
        }
        other => other,
    };
    let none = vec![0.0; data.inputs.len()];
    let mse = Loss::Distill {
        kind: DistillKind::Mse,
    };
    Ok(match choice {
        LabelFree::PseudoLabels => {
            let labels: Vec<i64> = all.outer_iter().map(|row| argmax(row.iter())).collect();
            Teacher {
                loss: Loss::CrossEntropy,
                targets: TensorValue::I64(ndarray::Array1::from(labels).into_dyn()),
                input_noise: none,
                description: "cross-entropy against the original model's top-1 (pseudo-labels)"
                    .to_string(),
            }
        }
        LabelFree::InputNoise { sigma } => Teacher {
            loss: mse,
            targets: TensorValue::F32(all),
            input_noise: data
                .inputs
                .iter()
                .enumerate()
                .map(|(i, (_, v))| match (data.axis(i), v.as_f32()) {
                    (Some(_), Some(a)) => sigma * std_of(a.iter()),
                    _ => 0.0,
                })
                .collect(),
            description: format!(
                "MSE to the original model's outputs, inputs with Gaussian noise of {sigma} x their std"
            ),
        },
        LabelFree::TargetNoise { sigma } => {
            let scale = sigma * std_of(all.iter());
            let mut rng = noise_rng(seed ^ 0x7a76_6574);
            let noisy = all.mapv(|x| x + scale * standard_normal(&mut rng));
            Teacher {
                loss: mse,
                targets: TensorValue::F32(noisy),
                input_noise: none,
                description: format!(
                    "MSE to the original model's outputs plus Gaussian noise of {sigma} x their std"
                ),
            }
        }
        LabelFree::Distill | LabelFree::Auto => {
            let kind = if all.ndim() == 2 {
                DistillKind::Kl
            } else {
                DistillKind::Mse
            };
            Teacher {
                loss: Loss::Distill { kind },
                targets: TensorValue::F32(all),
                input_noise: none,
                description: format!(
                    "distillation ({}) towards the original model's outputs",
                    if kind == DistillKind::Kl {
                        "KL on softmax"
                    } else {
                        "MSE"
                    }
                ),
            }
        }
    })
}

/// The random stream of input noise (seeded; one per fine-tuning run).
pub(crate) fn noise_rng(seed: u64) -> ChaCha8Rng {
    rand::SeedableRng::seed_from_u64(seed)
}

/// `value` plus Gaussian noise of standard deviation `std` (f32 inputs;
/// others, and `std == 0`, unchanged).
pub(crate) fn add_noise(value: TensorValue, std: f32, rng: &mut impl Rng) -> TensorValue {
    match value {
        TensorValue::F32(a) if std > 0.0 => {
            TensorValue::F32(a.mapv(|x| x + std * standard_normal(rng)))
        }
        other => other,
    }
}

/// One draw of a standard normal variable (Box-Muller on two uniforms).
fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// The teacher's first output on every sample, concatenated.
fn teacher_outputs(
    forward: &Plan,
    data: &Dataset,
    batch_size: usize,
) -> Result<ArrayD<f32>, TrainError> {
    let mut parts: Vec<ArrayD<f32>> = Vec::new();
    let mut start = 0;
    while start < data.len {
        let end = (start + batch_size.max(1)).min(data.len);
        let indices: Vec<usize> = (start..end).collect();
        let feeds = data.gather(&indices);
        match forward.run(&feeds)?.into_iter().next() {
            Some(TensorValue::F32(a)) => parts.push(a),
            _ => return Err(TrainError::Teacher),
        }
        start = end;
    }
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    ndarray::concatenate(Axis(0), &views).map_err(|_| TrainError::Teacher)
}

/// Index of the first maximum (numpy's argmax tie rule).
fn argmax<'a>(row: impl Iterator<Item = &'a f32>) -> i64 {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, &x) in row.enumerate() {
        if i == 0 || x > best.1 {
            best = (i, x);
        }
    }
    best.0 as i64
}

/// Population standard deviation, in f64 over storage order.
fn std_of<'a>(values: impl Iterator<Item = &'a f32> + Clone) -> f32 {
    let (mut n, mut sum) = (0f64, 0f64);
    for &x in values.clone() {
        n += 1.0;
        sum += x as f64;
    }
    let mean = sum / n.max(1.0);
    let var = values.map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n.max(1.0);
    var.sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_parse() {
        assert_eq!(LabelFree::parse("auto"), Some(LabelFree::Auto));
        assert_eq!(
            LabelFree::parse("input-noise:0.2"),
            Some(LabelFree::InputNoise { sigma: 0.2 })
        );
        assert_eq!(LabelFree::parse("input-noise:-1"), None);
        assert_eq!(LabelFree::parse("target-noise:x"), None);
        assert_eq!(LabelFree::parse("labels"), None);
    }

    #[test]
    fn argmax_takes_the_first_maximum_and_std_is_the_population_one() {
        assert_eq!(argmax([1.0, 3.0, 3.0, 2.0].iter()), 1);
        assert_eq!(argmax([-5.0f32].iter()), 0);
        assert!((std_of([1.0f32, 3.0].iter()) - 1.0).abs() < 1e-7);
    }
}

//! Gradient ops of the project domain ([`GRAD_DOMAIN`]): the backward ops
//! ONNX lacks, which autodiff writes into a training-step graph and wdq-exec
//! runs. Gradients that existing ONNX ops express (Mul, Neg, Gemm, Reshape,
//! Transpose, ...) are written with those ops instead; this set stays as
//! small as the gradient rules need.
//!
//! Conventions: `dY` is the gradient of the loss with respect to a forward
//! output, `dX` with respect to a forward input. Multi-output ops take a
//! [`Wanted`] mask and compute only the outputs it names; an unwanted output
//! slot is `None` both on the node and in the kernel's result.

use crate::op::{ConvAttrs, PoolAttrs};
use crate::{Attr, AttrValue, Op};

/// The operator domain of every [`GradOp`].
pub const GRAD_DOMAIN: &str = "ai.onnx.wdq";

/// Which of (up to three) outputs a gradient op computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wanted(pub [bool; 3]);

impl Wanted {
    /// Whether output `slot` is wanted.
    pub fn get(&self, slot: usize) -> bool {
        self.0.get(slot).copied().unwrap_or(false)
    }
}

/// An elementwise activation whose derivative [`GradOp::ActivationGrad`]
/// applies, with the attributes the derivative needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Activation {
    /// Gradient where `x > 0`.
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    Tanh,
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    HardSwish,
    Erf,
    /// `tanh`: the tanh approximation instead of the exact erf form.
    Gelu {
        tanh: bool,
    },
    /// Gradient `sign(x)` (0 at 0).
    Abs,
    /// Gradient where `min <= x <= max`. Bounds given here (attribute form,
    /// before opset 11) win; otherwise they are read from inputs 2 and 3.
    Clip {
        min: Option<f32>,
        max: Option<f32>,
    },
}

impl Activation {
    /// The activation `op` is, with what its derivative needs (`opset`:
    /// the model's default-domain version; Clip's bounds are attributes
    /// before 11). `None` for an op whose row has no activation gradient.
    pub fn of(op: &Op, opset: i64) -> Option<Activation> {
        Some(match op {
            Op::Relu => Activation::Relu,
            Op::LeakyRelu(a) => Activation::LeakyRelu {
                alpha: a.alpha.unwrap_or(0.01),
            },
            Op::Sigmoid => Activation::Sigmoid,
            Op::Tanh => Activation::Tanh,
            Op::HardSigmoid(a) => Activation::HardSigmoid {
                alpha: a.alpha.unwrap_or(0.2),
                beta: a.beta.unwrap_or(0.5),
            },
            Op::HardSwish => Activation::HardSwish,
            Op::Erf => Activation::Erf,
            Op::Gelu(a) => Activation::Gelu {
                tanh: a.approximate.as_deref() == Some("tanh"),
            },
            Op::Abs => Activation::Abs,
            Op::Clip(a) if opset < 11 => Activation::Clip {
                min: Some(a.min.unwrap_or(f32::MIN)),
                max: Some(a.max.unwrap_or(f32::MAX)),
            },
            Op::Clip(_) => Activation::Clip {
                min: None,
                max: None,
            },
            _ => return None,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "ReluGrad",
            Activation::LeakyRelu { .. } => "LeakyReluGrad",
            Activation::Sigmoid => "SigmoidGrad",
            Activation::Tanh => "TanhGrad",
            Activation::HardSigmoid { .. } => "HardSigmoidGrad",
            Activation::HardSwish => "HardSwishGrad",
            Activation::Erf => "ErfGrad",
            Activation::Gelu { .. } => "GeluGrad",
            Activation::Abs => "AbsGrad",
            Activation::Clip { .. } => "ClipGrad",
        }
    }
}

/// The distillation loss of [`GradOp::DistillLoss`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// KL(softmax(teacher) || softmax(student)) over axis 1, summed over
    /// classes, mean over the batch (axis 0).
    KlSoftmax,
    /// Mean over all elements of `(student - teacher)^2`.
    MeanSquare,
}

/// A gradient op. Inputs and outputs are listed per variant.
#[derive(Clone, Debug, PartialEq)]
pub enum GradOp {
    /// Conv backward. Inputs `(dY, X, W)`; outputs `(dX, dW, dB)`.
    ConvGrad { conv: ConvAttrs, wanted: Wanted },
    /// ConvTranspose backward. Inputs `(dY, X, W)`; outputs `(dX, dW, dB)`.
    ConvTransposeGrad { conv: ConvAttrs, wanted: Wanted },
    /// Inputs `(dY, X)`; output `dX`. Each window's gradient goes to its
    /// first maximum in scan order (as PyTorch).
    MaxPoolGrad(PoolAttrs),
    /// Inputs `(dY, X)`; output `dX`.
    AveragePoolGrad(PoolAttrs),
    /// Inputs `(dY, X)`; output `dX`.
    GlobalAveragePoolGrad,
    /// Inputs `(dY, X)`; output `dX` (first maximum of each plane).
    GlobalMaxPoolGrad,
    /// Inputs `(dY, X)` (plus `min`, `max` for Clip from opset 11); output `dX`.
    ActivationGrad(Activation),
    /// Inputs `(dY, X, slope)`; outputs `(dX, dSlope)`, `dSlope` shaped like the slope.
    PReluGrad { wanted: Wanted },
    /// Softmax (`log = false`) or LogSoftmax backward from the forward
    /// output. Inputs `(dY, Y)`; output `dX`. `coerce_2d`: the opset < 13
    /// semantics (normalised over `dims[axis..]` flattened).
    SoftmaxGrad {
        axis: i64,
        log: bool,
        coerce_2d: bool,
    },
    /// Inference-form BatchNormalization backward (frozen statistics).
    /// Inputs `(dY, X, scale, mean, var)`; outputs `(dX, dScale, dBias)`.
    BatchNormGrad { epsilon: f32, wanted: Wanted },
    /// LayerNormalization backward. Inputs `(dY, X, scale)`; outputs
    /// `(dX, dScale, dBias)`.
    LayerNormGrad {
        axis: i64,
        epsilon: f32,
        wanted: Wanted,
    },
    /// MatMul backward with numpy semantics (1-D operands, broadcast batch
    /// axes summed back). Inputs `(dY, A, B)`; outputs `(dA, dB)`.
    MatMulGrad { wanted: Wanted },
    /// Sums a broadcast gradient back to an operand's shape. Inputs
    /// `(G, operand)`; output shaped like `operand`.
    ReduceSumTo,
    /// Backward of a pure data-movement op (Slice, Gather, Pad, Resize
    /// nearest, Tile, Expand, Concat, Split, Where): the forward op is run on
    /// the element indices of input `wrt` (inputs in `masked` replaced by
    /// -1), and `dY` of output `output` is scatter-added to the indices it
    /// reads. Inputs `(dY, forward inputs...)`; output `dX` shaped like
    /// forward input `wrt`. `outputs` is the forward node's output count.
    IndexScatterGrad {
        op: Box<Op>,
        wrt: usize,
        output: usize,
        outputs: usize,
        masked: Vec<usize>,
    },
    /// Mean softmax cross-entropy over the batch. Inputs `(logits [N, C],
    /// labels i64 [N])`; outputs `(loss f32 scalar, dLogits)`.
    SoftmaxCrossEntropy,
    /// Distillation loss against a teacher output. Inputs `(student,
    /// teacher)`; outputs `(loss f32 scalar, dStudent)`.
    DistillLoss(Divergence),
}

fn int(name: &str, v: i64) -> Attr {
    Attr {
        name: name.to_string(),
        value: AttrValue::Int(v),
    }
}

fn float(name: &str, v: f32) -> Attr {
    Attr {
        name: name.to_string(),
        value: AttrValue::Float(v),
    }
}

fn wanted_attr(w: &Wanted) -> Attr {
    Attr {
        name: "wanted".to_string(),
        value: AttrValue::Ints(w.0.iter().map(|&b| b as i64).collect()),
    }
}

impl GradOp {
    /// The op type written in the graph (domain [`GRAD_DOMAIN`]).
    pub fn op_type(&self) -> &'static str {
        match self {
            GradOp::ConvGrad { .. } => "ConvGrad",
            GradOp::ConvTransposeGrad { .. } => "ConvTransposeGrad",
            GradOp::MaxPoolGrad(_) => "MaxPoolGrad",
            GradOp::AveragePoolGrad(_) => "AveragePoolGrad",
            GradOp::GlobalAveragePoolGrad => "GlobalAveragePoolGrad",
            GradOp::GlobalMaxPoolGrad => "GlobalMaxPoolGrad",
            GradOp::ActivationGrad(a) => a.name(),
            GradOp::PReluGrad { .. } => "PReluGrad",
            GradOp::SoftmaxGrad { log: false, .. } => "SoftmaxGrad",
            GradOp::SoftmaxGrad { log: true, .. } => "LogSoftmaxGrad",
            GradOp::BatchNormGrad { .. } => "BatchNormalizationGrad",
            GradOp::LayerNormGrad { .. } => "LayerNormalizationGrad",
            GradOp::MatMulGrad { .. } => "MatMulGrad",
            GradOp::ReduceSumTo => "ReduceSumTo",
            GradOp::IndexScatterGrad { .. } => "IndexScatterGrad",
            GradOp::SoftmaxCrossEntropy => "SoftmaxCrossEntropy",
            GradOp::DistillLoss(Divergence::KlSoftmax) => "KlDistillLoss",
            GradOp::DistillLoss(Divergence::MeanSquare) => "MseDistillLoss",
        }
    }

    /// The typed attributes as generic ones (for the text dump and export).
    pub fn attrs(&self) -> Vec<Attr> {
        match self {
            GradOp::ConvGrad { conv, wanted } | GradOp::ConvTransposeGrad { conv, wanted } => {
                let mut out = conv.to_attrs();
                out.push(wanted_attr(wanted));
                out
            }
            GradOp::MaxPoolGrad(p) | GradOp::AveragePoolGrad(p) => p.to_attrs(),
            GradOp::ActivationGrad(a) => match a {
                Activation::LeakyRelu { alpha } => vec![float("alpha", *alpha)],
                Activation::HardSigmoid { alpha, beta } => {
                    vec![float("alpha", *alpha), float("beta", *beta)]
                }
                Activation::Gelu { tanh } => vec![Attr {
                    name: "approximate".into(),
                    value: AttrValue::String(if *tanh { "tanh" } else { "none" }.into()),
                }],
                Activation::Clip { min, max } => {
                    let mut out = Vec::new();
                    if let Some(v) = min {
                        out.push(float("min", *v));
                    }
                    if let Some(v) = max {
                        out.push(float("max", *v));
                    }
                    out
                }
                _ => Vec::new(),
            },
            GradOp::PReluGrad { wanted } | GradOp::MatMulGrad { wanted } => {
                vec![wanted_attr(wanted)]
            }
            GradOp::SoftmaxGrad {
                axis, coerce_2d, ..
            } => vec![int("axis", *axis), int("coerce_2d", *coerce_2d as i64)],
            GradOp::BatchNormGrad { epsilon, wanted } => {
                vec![float("epsilon", *epsilon), wanted_attr(wanted)]
            }
            GradOp::LayerNormGrad {
                axis,
                epsilon,
                wanted,
            } => vec![
                int("axis", *axis),
                float("epsilon", *epsilon),
                wanted_attr(wanted),
            ],
            GradOp::IndexScatterGrad {
                op,
                wrt,
                output,
                outputs,
                masked,
            } => {
                let mut out = vec![
                    Attr {
                        name: "op".into(),
                        value: AttrValue::String(op.op_type().to_string()),
                    },
                    int("wrt", *wrt as i64),
                    int("output", *output as i64),
                    int("outputs", *outputs as i64),
                    Attr {
                        name: "masked".into(),
                        value: AttrValue::Ints(masked.iter().map(|&m| m as i64).collect()),
                    },
                ];
                out.extend(op.attrs().into_iter().map(|a| Attr {
                    name: format!("op.{}", a.name),
                    value: a.value,
                }));
                out
            }
            GradOp::GlobalAveragePoolGrad
            | GradOp::GlobalMaxPoolGrad
            | GradOp::ReduceSumTo
            | GradOp::SoftmaxCrossEntropy
            | GradOp::DistillLoss(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_activation_row_names_a_derivative() {
        for meta in Op::ALL_META {
            if meta.grad != crate::GradRule::Activation {
                continue;
            }
            let op = Op::from_onnx(meta.name, &[]).unwrap().unwrap();
            assert!(Activation::of(&op, 21).is_some(), "{}", meta.name);
        }
    }

    #[test]
    fn grad_ops_name_their_domain_and_attributes() {
        let op = Op::Grad(GradOp::BatchNormGrad {
            epsilon: 1e-5,
            wanted: Wanted([true, false, false]),
        });
        assert_eq!(op.domain(), GRAD_DOMAIN);
        assert_eq!(op.op_type(), "BatchNormalizationGrad");
        let attrs = op.attrs();
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[1].value, AttrValue::Ints(vec![1, 0, 0]));
        let scatter = GradOp::IndexScatterGrad {
            op: Box::new(Op::Identity),
            wrt: 0,
            output: 0,
            outputs: 1,
            masked: vec![],
        };
        assert_eq!(
            scatter.attrs()[0].value,
            AttrValue::String("Identity".into())
        );
    }
}

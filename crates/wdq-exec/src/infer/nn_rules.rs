//! Shape and type rules of the compute family: convolutions and pooling
//! (pads, strides, dilations, ceil_mode, auto_pad), Gemm, MatMul,
//! elementwise broadcasting, activations and normalisations.

use super::{Fact, Operand};
use crate::tensor_ops::broadcast_shapes;
use crate::KernelError;
use wdq_ir::op::{ConvAttrs, GemmAttrs, PoolAttrs};
use wdq_ir::{DType, Op};

/// Output facts of a compute-family op.
///
/// # Errors
/// [`KernelError`] on contradictions (channel, inner-dimension or broadcast mismatches).
pub(crate) fn facts(op: &Op, ins: &[Operand<'_>], n_out: usize) -> Result<Vec<Fact>, KernelError> {
    let d0 = ins.first().and_then(|o| o.dtype);
    let shape = |i: usize| ins.get(i).filter(|o| o.present).and_then(|o| o.shape);
    let one = |s: Option<Vec<usize>>| Ok(vec![Fact::new(d0, s)]);
    if let Some((kind, a)) = crate::nn::recurrent::recurrent_op(op) {
        let shapes = crate::nn::recurrent::output_shapes(kind, a, shape(0), shape(1))?;
        return Ok(shapes.into_iter().map(|s| Fact::new(d0, s)).collect());
    }
    match op {
        Op::Einsum(a) => {
            let shapes: Vec<_> = (0..ins.len()).map(shape).collect();
            one(crate::nn::einsum::output_shape(
                a.equation.as_deref().unwrap_or_default(),
                &shapes,
            )?)
        }
        Op::Conv(a) => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(conv(a, x, w, shape(2))?)),
            _ => one(None),
        },
        Op::ConvTranspose(a) => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(conv_transpose(a, x, w)?)),
            _ => one(None),
        },
        Op::Gemm(a) => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(gemm(a, x, w, shape(2))?)),
            _ => one(None),
        },
        Op::MatMul => match (shape(0), shape(1)) {
            (Some(x), Some(w)) => one(Some(matmul(x, w)?)),
            _ => one(None),
        },
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Max | Op::Min | Op::PRelu => {
            let shapes: Option<Vec<&[usize]>> =
                ins.iter().filter(|o| o.present).map(|o| o.shape).collect();
            one(shapes.map(|s| broadcast_shapes(&s)).transpose()?)
        }
        Op::MaxPool(a) | Op::AveragePool(a) => {
            let Some(x) = shape(0) else {
                return Ok(vec![Fact::new(d0, None), Fact::new(Some(DType::I64), None)]);
            };
            let out = pool(a, x)?;
            Ok(vec![
                Fact::new(d0, Some(out.clone())),
                Fact::new(Some(DType::I64), Some(out)),
            ])
        }
        Op::GlobalAveragePool | Op::GlobalMaxPool => one(shape(0).map(|x| {
            x.iter()
                .enumerate()
                .map(|(i, &d)| if i < 2 { d } else { 1 })
                .collect()
        })),
        Op::BatchNormalization(_) => {
            let x = shape(0).map(<[usize]>::to_vec);
            let c = x.as_ref().and_then(|x| x.get(1).copied());
            let stat = Fact::new(ins.get(1).and_then(|o| o.dtype).or(d0), c.map(|c| vec![c]));
            let mut out = vec![Fact::new(d0, x)];
            out.extend(std::iter::repeat_n(stat, n_out.saturating_sub(1)));
            Ok(out)
        }
        Op::LayerNormalization(a) => {
            let x = shape(0).map(<[usize]>::to_vec);
            let stat = match &x {
                Some(x) => {
                    let axis =
                        crate::tensor_ops::elem::norm_axis(a.axis.unwrap_or(-1), x.len(), "axis")?;
                    Some(
                        x.iter()
                            .enumerate()
                            .map(|(i, &d)| if i < axis { d } else { 1 })
                            .collect(),
                    )
                }
                None => None,
            };
            let stat = Fact::new(Some(DType::F32), stat);
            let mut out = vec![Fact::new(d0, x)];
            out.extend(std::iter::repeat_n(stat, n_out.saturating_sub(1)));
            Ok(out)
        }
        // Unary activations, Clip, Softmax and friends keep shape and type.
        _ => one(shape(0).map(<[usize]>::to_vec)),
    }
}

/// A per-axis attribute, `default` everywhere when absent; values must be
/// at least `default` (1 for strides and dilations, 0 for pads).
fn attr_or(
    v: &Option<Vec<i64>>,
    rank: usize,
    default: i64,
    name: &'static str,
) -> Result<Vec<usize>, KernelError> {
    match v {
        None => Ok(vec![default as usize; rank]),
        Some(v) if v.len() == rank && v.iter().all(|&x| x >= default) => {
            Ok(v.iter().map(|&x| x as usize).collect())
        }
        Some(v) => Err(KernelError::Attribute {
            name,
            why: format!("{v:?} does not fit {rank} spatial axes"),
        }),
    }
}

/// Output sizes of a sliding window over `input` (spatial dims only).
fn window(
    input: &[usize],
    kernel: &[usize],
    auto_pad: Option<&str>,
    strides: &Option<Vec<i64>>,
    dilations: &Option<Vec<i64>>,
    pads: &Option<Vec<i64>>,
    ceil_mode: bool,
) -> Result<Vec<usize>, KernelError> {
    let rank = input.len();
    if kernel.len() != rank || kernel.contains(&0) {
        return Err(KernelError::Attribute {
            name: "kernel_shape",
            why: format!("{kernel:?} for {rank} spatial axes"),
        });
    }
    let stride = attr_or(strides, rank, 1, "strides")?;
    let dilation = attr_or(dilations, rank, 1, "dilations")?;
    let pads = attr_or(pads, 2 * rank, 0, "pads")?;
    let mode = auto_pad.unwrap_or("NOTSET");
    (0..rank)
        .map(|i| {
            let span = (kernel[i] - 1)
                .saturating_mul(dilation[i])
                .saturating_add(1);
            let (n, s) = (input[i], stride[i]);
            let (begin, end) = match mode {
                "SAME_UPPER" | "SAME_LOWER" => return Ok(n.div_ceil(s)),
                "VALID" => (0, 0),
                "NOTSET" | "" => (pads[i], pads[i + rank]),
                other => {
                    return Err(KernelError::Attribute {
                        name: "auto_pad",
                        why: format!("unknown mode {other:?}"),
                    })
                }
            };
            let padded = n.saturating_add(begin).saturating_add(end);
            if padded < span {
                return Err(KernelError::Shape(format!(
                    "window of extent {span} does not fit padded input {padded} on spatial axis {i}"
                )));
            }
            let mut out = if ceil_mode {
                (padded - span).div_ceil(s) + 1
            } else {
                (padded - span) / s + 1
            };
            if ceil_mode && (out - 1) * s >= n + begin {
                out -= 1;
            }
            Ok(out)
        })
        .collect()
}

fn conv(
    a: &ConvAttrs,
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
) -> Result<Vec<usize>, KernelError> {
    if x.len() < 3 || w.len() != x.len() {
        return Err(KernelError::Shape(format!(
            "Conv input {x:?} and weight {w:?} ranks do not fit"
        )));
    }
    let group = usize::try_from(a.group.unwrap_or(1))
        .ok()
        .filter(|&g| g > 0)
        .ok_or(KernelError::Attribute {
            name: "group",
            why: "must be positive".into(),
        })?;
    let expected = w[1].saturating_mul(group);
    if x[1] != expected || !w[0].is_multiple_of(group) {
        return Err(KernelError::Shape(format!(
            "Conv input has {} channels, weight {w:?} with group {group} expects {expected}",
            x[1]
        )));
    }
    if let Some(b) = bias {
        if b != [w[0]] {
            return Err(KernelError::Shape(format!(
                "Conv bias {b:?} does not match {} output channels",
                w[0]
            )));
        }
    }
    let kernel = kernel_of(&a.kernel_shape, &w[2..])?;
    let spatial = window(
        &x[2..],
        &kernel,
        a.auto_pad.as_deref(),
        &a.strides,
        &a.dilations,
        &a.pads,
        false,
    )?;
    Ok([x[0], w[0]].into_iter().chain(spatial).collect())
}

fn kernel_of(attr: &Option<Vec<i64>>, from_weight: &[usize]) -> Result<Vec<usize>, KernelError> {
    match attr {
        None => Ok(from_weight.to_vec()),
        Some(k)
            if k.len() == from_weight.len()
                && k.iter().zip(from_weight).all(|(&a, &b)| a == b as i64) =>
        {
            Ok(from_weight.to_vec())
        }
        Some(k) => Err(KernelError::Attribute {
            name: "kernel_shape",
            why: format!("{k:?} differs from the weight's {from_weight:?}"),
        }),
    }
}

fn conv_transpose(a: &ConvAttrs, x: &[usize], w: &[usize]) -> Result<Vec<usize>, KernelError> {
    if x.len() < 3 || w.len() != x.len() {
        return Err(KernelError::Shape(format!(
            "ConvTranspose input {x:?} and weight {w:?} ranks do not fit"
        )));
    }
    let group = usize::try_from(a.group.unwrap_or(1))
        .ok()
        .filter(|&g| g > 0)
        .ok_or(KernelError::Attribute {
            name: "group",
            why: "must be positive".into(),
        })?;
    if x[1] != w[0] {
        return Err(KernelError::Shape(format!(
            "ConvTranspose input has {} channels, weight {w:?} expects {}",
            x[1], w[0]
        )));
    }
    let rank = x.len() - 2;
    let kernel = kernel_of(&a.kernel_shape, &w[2..])?;
    if kernel.contains(&0) {
        return Err(KernelError::Shape(format!(
            "ConvTranspose weight {w:?} has an empty kernel"
        )));
    }
    let head = [x[0], w[1].saturating_mul(group)];
    if let Some(shape) = &a.output_shape {
        let tail = shape
            .get(shape.len().saturating_sub(rank)..)
            .filter(|t| t.len() == rank);
        let tail = tail.ok_or_else(|| KernelError::Attribute {
            name: "output_shape",
            why: format!("{shape:?}"),
        })?;
        return Ok(head
            .into_iter()
            .chain(tail.iter().map(|&d| d.max(0) as usize))
            .collect());
    }
    let stride = attr_or(&a.strides, rank, 1, "strides")?;
    let dilation = attr_or(&a.dilations, rank, 1, "dilations")?;
    let pads = attr_or(&a.pads, 2 * rank, 0, "pads")?;
    let extra = attr_or(&a.output_padding, rank, 0, "output_padding")?;
    let same = matches!(a.auto_pad.as_deref(), Some("SAME_UPPER" | "SAME_LOWER"));
    let spatial = (0..rank)
        .map(|i| {
            if same {
                return Ok(x[i + 2].saturating_mul(stride[i]));
            }
            let full = stride[i]
                .saturating_mul(x[i + 2].max(1) - 1)
                .saturating_add(extra[i])
                .saturating_add((kernel[i] - 1).saturating_mul(dilation[i]))
                .saturating_add(1);
            full.checked_sub(pads[i].saturating_add(pads[i + rank]))
                .ok_or_else(|| {
                    KernelError::Shape(format!("ConvTranspose pads exceed the output on axis {i}"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(head.into_iter().chain(spatial).collect())
}

fn pool(a: &PoolAttrs, x: &[usize]) -> Result<Vec<usize>, KernelError> {
    if x.len() < 3 {
        return Err(KernelError::Shape(format!(
            "pooling input {x:?} has no spatial axes"
        )));
    }
    let kernel: Vec<usize> = a
        .kernel_shape
        .as_ref()
        .ok_or(KernelError::Attribute {
            name: "kernel_shape",
            why: "missing".into(),
        })?
        .iter()
        .map(|&k| usize::try_from(k).unwrap_or(0))
        .collect();
    let ceil = a.ceil_mode.unwrap_or(0) != 0;
    let spatial = window(
        &x[2..],
        &kernel,
        a.auto_pad.as_deref(),
        &a.strides,
        &a.dilations,
        &a.pads,
        ceil,
    )?;
    Ok(x[..2].iter().copied().chain(spatial).collect())
}

fn gemm(
    a: &GemmAttrs,
    x: &[usize],
    w: &[usize],
    c: Option<&[usize]>,
) -> Result<Vec<usize>, KernelError> {
    if x.len() != 2 || w.len() != 2 {
        return Err(KernelError::Shape(format!(
            "Gemm operands {x:?} and {w:?} must be matrices"
        )));
    }
    let (m, k) = if a.trans_a.unwrap_or(0) != 0 {
        (x[1], x[0])
    } else {
        (x[0], x[1])
    };
    let (k2, n) = if a.trans_b.unwrap_or(0) != 0 {
        (w[1], w[0])
    } else {
        (w[0], w[1])
    };
    if k != k2 {
        return Err(KernelError::Shape(format!(
            "Gemm inner dimensions differ: A {x:?}, B {w:?}"
        )));
    }
    if let Some(c) = c {
        if broadcast_shapes(&[c, &[m, n]])? != [m, n] {
            return Err(KernelError::Broadcast {
                a: c.to_vec(),
                b: vec![m, n],
            });
        }
    }
    Ok(vec![m, n])
}

fn matmul(a: &[usize], b: &[usize]) -> Result<Vec<usize>, KernelError> {
    if a.is_empty() || b.is_empty() {
        return Err(KernelError::Shape("MatMul of a scalar".into()));
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (ra, rb) = (a2.len(), b2.len());
    if a2[ra - 1] != b2[rb - 2] {
        return Err(KernelError::Shape(format!(
            "MatMul inner dimensions differ: {a:?} x {b:?}"
        )));
    }
    let mut out = broadcast_shapes(&[&a2[..ra - 2], &b2[..rb - 2]])?;
    if a.len() > 1 {
        out.push(a2[ra - 2]);
    }
    if b.len() > 1 {
        out.push(b2[rb - 1]);
    }
    Ok(out)
}

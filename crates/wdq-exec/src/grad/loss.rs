//! Training losses with their gradients: mean softmax cross-entropy against
//! int64 labels, and the distillation losses (KL on softmax, mean square)
//! against a teacher output. Sums run in f64, in index order.

use super::{expect_shape, slot};
use crate::kit::{contiguous, f32_input, required};
use crate::{KernelError, KernelResult, TensorValue};

fn scalar(v: f64) -> Result<Option<TensorValue>, KernelError> {
    slot(&[], Some(vec![v as f32]))
}

/// Softmax of `len` logits at `row[i * inner]` (f64).
fn softmax(row: &[f32], len: usize, inner: usize) -> Vec<f64> {
    let max = (0..len)
        .map(|i| row[i * inner] as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = (0..len)
        .map(|i| (row[i * inner] as f64 - max).exp())
        .collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// SoftmaxCrossEntropy: inputs `(logits [N, C] or [N, C, 1, ..], labels [N])`, outputs
/// `(loss, dLogits)`; the loss is the mean over the batch.
pub(super) fn softmax_cross_entropy(inputs: &[Option<&TensorValue>]) -> KernelResult {
    let z = f32_input(inputs, 0)?;
    let labels: Vec<i64> = match required(inputs, 1)? {
        TensorValue::I64(a) => a.iter().copied().collect(),
        TensorValue::I32(a) => a.iter().map(|&v| v as i64).collect(),
        other => {
            return Err(KernelError::InputType {
                index: 1,
                got: other.dtype(),
                expected: "i64 labels",
            })
        }
    };
    let shape = z.shape();
    // [batch, classes], or with trailing unit axes ([N, C, 1, 1]: the
    // logits of a convolutional head that ends without flattening).
    if shape.len() < 2 || shape[2..].iter().any(|&d| d != 1) {
        return Err(KernelError::Shape(format!(
            "cross-entropy logits {shape:?} must be [batch, classes] (trailing axes of size 1 allowed)"
        )));
    }
    let (n, c) = (shape[0], shape[1]);
    if labels.len() != n {
        return Err(KernelError::Shape(format!(
            "{} labels for a batch of {n}",
            labels.len()
        )));
    }
    let zd = contiguous(z);
    let mut grad = vec![0.0f32; n * c];
    let mut total = 0.0f64;
    for (r, &label) in labels.iter().enumerate() {
        let class = usize::try_from(label)
            .ok()
            .filter(|&l| l < c)
            .ok_or_else(|| KernelError::Shape(format!("label {label} outside {c} classes")))?;
        let p = softmax(&zd[r * c..(r + 1) * c], c, 1);
        total -= p[class].max(f64::MIN_POSITIVE).ln();
        for j in 0..c {
            let onehot = if j == class { 1.0 } else { 0.0 };
            grad[r * c + j] = ((p[j] - onehot) / n as f64) as f32;
        }
    }
    let loss = if n == 0 { 0.0 } else { total / n as f64 };
    Ok(vec![scalar(loss)?, slot(shape, Some(grad))?])
}

/// DistillLoss: inputs `(student, teacher)`, outputs `(loss, dStudent)`.
pub(super) fn distill_loss(
    kind: wdq_ir::grad_op::Divergence,
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let s = f32_input(inputs, 0)?;
    let t = f32_input(inputs, 1)?;
    expect_shape(t.shape(), s.shape(), "teacher output")?;
    let shape = s.shape();
    let (sd, td) = (contiguous(s), contiguous(t));
    let mut grad = vec![0.0f32; sd.len()];
    let mut total = 0.0f64;
    match kind {
        wdq_ir::grad_op::Divergence::MeanSquare => {
            let count = sd.len().max(1) as f64;
            for i in 0..sd.len() {
                let diff = sd[i] as f64 - td[i] as f64;
                total += diff * diff;
                grad[i] = (2.0 * diff / count) as f32;
            }
            total /= count;
        }
        wdq_ir::grad_op::Divergence::KlSoftmax => {
            if shape.len() < 2 {
                return Err(KernelError::Shape(format!(
                    "KL distillation needs [batch, classes, ...], got {shape:?}"
                )));
            }
            let (n, c) = (shape[0], shape[1]);
            let inner: usize = shape[2..].iter().product();
            for b in 0..n {
                for j in 0..inner {
                    let base = b * c * inner + j;
                    let ps = softmax(&sd[base..], c, inner);
                    let pt = softmax(&td[base..], c, inner);
                    for i in 0..c {
                        if pt[i] > 0.0 {
                            total += pt[i] * (pt[i].ln() - ps[i].max(f64::MIN_POSITIVE).ln());
                        }
                        grad[base + i * inner] = ((ps[i] - pt[i]) / n.max(1) as f64) as f32;
                    }
                }
            }
            total /= n.max(1) as f64;
        }
    }
    Ok(vec![scalar(total)?, slot(shape, Some(grad))?])
}

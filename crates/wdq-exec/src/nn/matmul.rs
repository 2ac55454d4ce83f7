//! Gemm and MatMul through [`super::sgemm`].
//!
//! Gemm: `Y = alpha * A' * B' + beta * C`, `C` optional and broadcast
//! unidirectionally to `[M, N]`. MatMul follows numpy: 1-D operands gain a
//! unit axis that is dropped from the result, batch axes broadcast. A
//! right operand without batch axes (a weight) turns the whole batch into
//! one product; otherwise each batch matrix is a task.

use super::broadcast::strides_in;
use super::parallel::{try_chunks, worth_sharing, MACS_PER_UNIT};
use super::sgemm::{sgemm, MatMut, MatRef, Threads};
use crate::kit::{array, contiguous, f32_input, optional_f32, single};
use crate::tensor_ops::broadcast_shapes;
use crate::{KernelError, KernelResult, TensorValue};
use wdq_ir::op::GemmAttrs;

/// Gemm.
pub(super) fn gemm_op(attrs: &GemmAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let a = f32_input(inputs, 0)?;
    let b = f32_input(inputs, 1)?;
    let c = optional_f32(inputs, 2)?;
    let (ta, tb) = (
        attrs.trans_a.unwrap_or(0) != 0,
        attrs.trans_b.unwrap_or(0) != 0,
    );
    let (alpha, beta) = (attrs.alpha.unwrap_or(1.0), attrs.beta.unwrap_or(1.0));
    if a.ndim() != 2 || b.ndim() != 2 {
        return Err(KernelError::Shape(format!(
            "Gemm needs 2-D A and B, got {:?} and {:?}",
            a.shape(),
            b.shape()
        )));
    }
    let (m, k) = if ta {
        (a.shape()[1], a.shape()[0])
    } else {
        (a.shape()[0], a.shape()[1])
    };
    let (kb, n) = if tb {
        (b.shape()[1], b.shape()[0])
    } else {
        (b.shape()[0], b.shape()[1])
    };
    if k != kb {
        return Err(KernelError::Shape(format!(
            "Gemm inner dims differ: A {:?} (transA {ta}) and B {:?} (transB {tb})",
            a.shape(),
            b.shape()
        )));
    }
    let (ad, bd) = (contiguous(a), contiguous(b));
    let lhs = MatRef::row_major(&ad, a.shape()[0], a.shape()[1])?;
    let rhs = MatRef::row_major(&bd, b.shape()[0], b.shape()[1])?;
    let (lhs, rhs) = (
        if ta { lhs.t() } else { lhs },
        if tb { rhs.t() } else { rhs },
    );
    let (mut y, accumulate) = match c {
        Some(c) if beta != 0.0 => {
            if c.ndim() > 2 || broadcast_shapes(&[c.shape(), &[m, n]])? != [m, n] {
                return Err(KernelError::Broadcast {
                    a: c.shape().to_vec(),
                    b: vec![m, n],
                });
            }
            let (cd, st) = (contiguous(c), strides_in(c.shape(), &[m, n]));
            let mut y = Vec::with_capacity(m * n);
            for i in 0..m {
                y.extend((0..n).map(|j| beta * cd[i * st[0] + j * st[1]]));
            }
            (y, true)
        }
        _ => (vec![0.0f32; m * n], false),
    };
    sgemm(
        MatMut::row_major(&mut y, m, n)?,
        lhs,
        rhs,
        accumulate,
        alpha,
        Threads::Pool,
    )?;
    single(TensorValue::F32(array(&[m, n], y)?))
}

/// The geometry of a numpy MatMul, shared by the kernel, its gradient and
/// shape inference: 1-D operands gain a unit axis (in front of A, behind
/// B), batch axes broadcast.
pub(crate) struct MatMulDims {
    /// A's shape with the unit axis added.
    pub a: Vec<usize>,
    /// B's shape with the unit axis added.
    pub b: Vec<usize>,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// The broadcast batch axes.
    pub batch: Vec<usize>,
    /// The output shape (the added unit axes dropped again).
    pub out: Vec<usize>,
}

impl MatMulDims {
    /// The geometry of `A [.., m, k] x B [.., k, n]`.
    ///
    /// # Errors
    /// [`KernelError::Shape`] for a scalar operand or differing inner
    /// dimensions; [`KernelError::Broadcast`] for batch axes that do not
    /// broadcast.
    pub(crate) fn of(a: &[usize], b: &[usize]) -> Result<MatMulDims, KernelError> {
        if a.is_empty() || b.is_empty() {
            return Err(KernelError::Shape("MatMul operands need rank >= 1".into()));
        }
        let mut a2 = a.to_vec();
        let mut b2 = b.to_vec();
        if a2.len() == 1 {
            a2.insert(0, 1);
        }
        if b2.len() == 1 {
            b2.push(1);
        }
        let (ar, br) = (a2.len(), b2.len());
        let (m, k, n) = (a2[ar - 2], a2[ar - 1], b2[br - 1]);
        if b2[br - 2] != k {
            return Err(KernelError::Shape(format!(
                "MatMul inner dims differ: {a:?} and {b:?}"
            )));
        }
        let batch = broadcast_shapes(&[&a2[..ar - 2], &b2[..br - 2]])?;
        let mut out = batch.clone();
        if a.len() > 1 {
            out.push(m);
        }
        if b.len() > 1 {
            out.push(n);
        }
        Ok(MatMulDims {
            a: a2,
            b: b2,
            m,
            k,
            n,
            batch,
            out,
        })
    }
}

/// MatMul with numpy semantics.
pub(super) fn matmul(inputs: &[Option<&TensorValue>]) -> KernelResult {
    let a = f32_input(inputs, 0)?;
    let b = f32_input(inputs, 1)?;
    let MatMulDims {
        a: a_shape,
        b: b_shape,
        m,
        k,
        n,
        batch,
        out: dims,
    } = MatMulDims::of(a.shape(), b.shape())?;
    let (ar, br) = (a_shape.len(), b_shape.len());
    let count: usize = batch.iter().product();
    let (ad, bd) = (contiguous(a), contiguous(b));
    let mut y = vec![0.0f32; count * m * n];
    if br == 2 {
        // Every batch matrix of A meets the same B: one product of all rows.
        let rows = count * m;
        sgemm(
            MatMut::row_major(&mut y, rows, n)?,
            MatRef::row_major(&ad, rows, k)?,
            MatRef::row_major(&bd, k, n)?,
            false,
            1.0,
            Threads::Pool,
        )?;
    } else if m * n > 0 {
        let sa = strides_in(&a_shape[..ar - 2], &batch);
        let sb = strides_in(&b_shape[..br - 2], &batch);
        let work = count * m * n * k / MACS_PER_UNIT;
        let threads = if count >= rayon::current_num_threads() || !worth_sharing(work) {
            Threads::Single
        } else {
            Threads::Pool
        };
        try_chunks(
            &mut y,
            m * n,
            work,
            || (),
            |_, i, y_i| {
                let (mut oa, mut ob, mut rest) = (0, 0, i);
                for d in (0..batch.len()).rev() {
                    let idx = rest % batch[d];
                    rest /= batch[d];
                    oa += idx * sa[d];
                    ob += idx * sb[d];
                }
                let lhs = MatRef::row_major(&ad[oa * m * k..][..m * k], m, k)?;
                let rhs = MatRef::row_major(&bd[ob * k * n..][..k * n], k, n)?;
                sgemm(MatMut::row_major(y_i, m, n)?, lhs, rhs, false, 1.0, threads)
            },
        )?;
    }
    single(TensorValue::F32(array(&dims, y)?))
}

//! MatMul backward with numpy semantics: 1-D operands gain a unit axis,
//! batch axes broadcast, and each operand's gradient is summed back over
//! the batch axes it was broadcast along.
//!
//! A right operand without batch axes (a weight) makes both gradients one
//! matrix product over all rows. Otherwise batch matrices are visited in
//! order, each product accumulating into its operand's block, so the sum
//! order is fixed.

use super::{expect_shape, slot};
use crate::kit::{contiguous, f32_input};
use crate::nn::matmul::MatMulDims;
use crate::nn::sgemm::{sgemm, MatMut, MatRef, Threads};
use crate::{KernelResult, TensorValue};
use wdq_ir::grad_op::Wanted;

/// Row-major offset (in matrices) of batch index `i` of `batch` in an
/// operand whose batch shape is `own` (broadcast to `batch`).
fn batch_offset(i: usize, batch: &[usize], own: &[usize]) -> usize {
    let lead = batch.len() - own.len();
    let (mut rest, mut at, mut step) = (i, 0, 1);
    for d in (0..batch.len()).rev() {
        let idx = rest % batch[d];
        rest /= batch[d];
        if d >= lead && own[d - lead] != 1 {
            at += idx * step;
        }
        if d >= lead {
            step *= own[d - lead];
        }
    }
    at
}

/// MatMulGrad: inputs `(dY, A, B)`, outputs `(dA, dB)` as wanted.
pub(super) fn matmul_grad(wanted: Wanted, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let dy = f32_input(inputs, 0)?;
    let a = f32_input(inputs, 1)?;
    let b = f32_input(inputs, 2)?;
    let MatMulDims {
        a: a_shape,
        b: b_shape,
        m,
        k,
        n,
        batch,
        out: y_dims,
    } = MatMulDims::of(a.shape(), b.shape())?;
    let (ar, br) = (a_shape.len(), b_shape.len());
    let (a_batch, b_batch) = (&a_shape[..ar - 2], &b_shape[..br - 2]);
    let count: usize = batch.iter().product();
    expect_shape(dy.shape(), &y_dims, "MatMul output gradient")?;
    let (g, ad, bd) = (contiguous(dy), contiguous(a), contiguous(b));
    let mut da = wanted.get(0).then(|| vec![0.0f32; a.len()]);
    let mut db = wanted.get(1).then(|| vec![0.0f32; b.len()]);
    if br == 2 && count * m * n * k > 0 {
        let rows = count * m;
        let gm = MatRef::row_major(&g, rows, n)?;
        if let Some(da) = da.as_mut() {
            let bt = MatRef::row_major(&bd, k, n)?.t();
            sgemm(
                MatMut::row_major(da, rows, k)?,
                gm,
                bt,
                false,
                1.0,
                Threads::Pool,
            )?;
        }
        if let Some(db) = db.as_mut() {
            let at = MatRef::row_major(&ad, rows, k)?.t();
            sgemm(
                MatMut::row_major(db, k, n)?,
                at,
                gm,
                false,
                1.0,
                Threads::Pool,
            )?;
        }
    } else if m * n * k > 0 {
        for i in 0..count {
            let oa = batch_offset(i, &batch, a_batch);
            let ob = batch_offset(i, &batch, b_batch);
            let gi = MatRef::row_major(&g[i * m * n..][..m * n], m, n)?;
            let ai = MatRef::row_major(&ad[oa * m * k..][..m * k], m, k)?;
            let bi = MatRef::row_major(&bd[ob * k * n..][..k * n], k, n)?;
            if let Some(da) = da.as_mut() {
                let dst = MatMut::row_major(&mut da[oa * m * k..][..m * k], m, k)?;
                sgemm(dst, gi, bi.t(), true, 1.0, Threads::Pool)?;
            }
            if let Some(db) = db.as_mut() {
                let dst = MatMut::row_major(&mut db[ob * k * n..][..k * n], k, n)?;
                sgemm(dst, ai.t(), gi, true, 1.0, Threads::Pool)?;
            }
        }
    }
    Ok(vec![slot(a.shape(), da)?, slot(b.shape(), db)?])
}

//! LSTM, GRU and RNN backward through time: the forward pass is run again
//! with its trace (the forward kernel's own [`Spec::forward`]), then each
//! direction is walked back from its last processed step, accumulating the
//! weight, bias, peephole, input and initial-state gradients in index order.

use crate::kit::{array, optional_f32};
use crate::nn::recurrent::{operands, recurrent_op, Kind, Operands, Spec, Trace};
use crate::{KernelError, KernelResult, TensorValue};
use wdq_ir::Op;

/// Forward input slots that can have a gradient (`sequence_lens` cannot).
const SLOTS: usize = 8;
/// Input slot of `dY` (then `dY_h`, `dY_c`).
const DY: usize = 8;

/// `dw[j, k] += sum_b d[b, j] x[b, k]` (`d` is `[batch, n]`, `x` `[batch, k]`).
fn add_dtx(d: &[f32], x: &[f32], k: usize, dw: &mut [f32]) {
    let n = dw.len() / k.max(1);
    for (dr, xr) in d.chunks(n).zip(x.chunks(k)) {
        for (&dv, wr) in dr.iter().zip(dw.chunks_mut(k)) {
            for (w, &xv) in wr.iter_mut().zip(xr) {
                *w += dv * xv;
            }
        }
    }
}

/// `dx[b, k] += sum_j d[b, j] w[j, k]`.
fn add_dw(d: &[f32], w: &[f32], k: usize, dx: &mut [f32]) {
    let n = w.len() / k.max(1);
    for (dr, xr) in d.chunks(n).zip(dx.chunks_mut(k)) {
        for (&dv, wr) in dr.iter().zip(w.chunks(k)) {
            for (x, &wv) in xr.iter_mut().zip(wr) {
                *x += dv * wv;
            }
        }
    }
}

/// Gradient buffers, shaped like the forward operands.
struct Grads {
    x: Vec<f32>,
    w: Vec<f32>,
    r: Vec<f32>,
    b: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    p: Vec<f32>,
}

/// The incoming gradients `dY`, `dY_h`, `dY_c`.
struct Upstream<'a> {
    y: Option<&'a [f32]>,
    yh: Option<&'a [f32]>,
    yc: Option<&'a [f32]>,
}

/// Runs `op`'s backward (see [`wdq_ir::GradOp::RecurrentGrad`]).
///
/// # Errors
/// [`KernelError`] for operands that do not fit the forward op.
pub(crate) fn recurrent_grad(
    op: &Op,
    wanted: &[bool],
    inputs: &[Option<&TensorValue>],
) -> KernelResult {
    let (kind, attrs) = recurrent_op(op)
        .ok_or_else(|| KernelError::Unsupported(format!("{} backward", op.op_type())))?;
    let (s, ops) = operands(kind, attrs, inputs)?;
    let state = s.state_shape();
    let upstream = |slot: usize, shape: &[usize]| -> Result<Option<&[f32]>, KernelError> {
        match optional_f32(inputs, slot)? {
            None => Ok(None),
            Some(a) if a.shape() == shape => Ok(a.as_slice()),
            Some(a) => Err(KernelError::Shape(format!(
                "gradient input {slot} has shape {:?}, expected {shape:?}",
                a.shape()
            ))),
        }
    };
    let up = Upstream {
        y: upstream(DY, &s.y_shape())?,
        yh: upstream(DY + 1, &state)?,
        yc: upstream(DY + 2, &state)?,
    };
    let (g, h) = (kind.gates(), s.hidden);
    let dirs = s.dirs();
    let mut gr = Grads {
        x: vec![0.0; ops.x.len()],
        w: vec![0.0; ops.w.len()],
        r: vec![0.0; ops.r.len()],
        b: vec![0.0; dirs * 2 * g * h],
        h0: vec![0.0; state.iter().product()],
        c0: vec![0.0; state.iter().product()],
        p: vec![0.0; dirs * 3 * h],
    };
    for d in 0..dirs {
        let tr = s.forward(&ops, d);
        backward(&s, &ops, &tr, &up, d, &mut gr);
    }
    let shapes: [Option<Vec<usize>>; SLOTS] = [
        Some(s.x_shape()),
        Some(vec![dirs, g * h, s.input]),
        Some(vec![dirs, g * h, h]),
        Some(vec![dirs, 2 * g * h]),
        None,
        Some(state.clone()),
        (kind == Kind::Lstm).then(|| state.clone()),
        (kind == Kind::Lstm).then(|| vec![dirs, 3 * h]),
    ];
    let data = [gr.x, gr.w, gr.r, gr.b, Vec::new(), gr.h0, gr.c0, gr.p];
    shapes
        .into_iter()
        .zip(data)
        .enumerate()
        .map(|(slot, (shape, data))| match shape {
            Some(shape) if wanted.get(slot).copied().unwrap_or(false) => {
                array(&shape, data).map(|a| Some(TensorValue::F32(a)))
            }
            _ => Ok(None),
        })
        .collect()
}

/// Walks direction `d` back through time, adding into `gr`.
fn backward(s: &Spec, ops: &Operands<'_>, tr: &Trace, up: &Upstream<'_>, d: usize, gr: &mut Grads) {
    let (kind, h, bsz, k) = (s.kind, s.hidden, s.batch, s.input);
    let g = kind.gates();
    let (bh, gh) = (bsz * h, g * h);
    let wts = s.weights(ops, d);
    let state_at = |buf: Option<&[f32]>| -> Vec<f32> {
        let mut out = vec![0.0; bh];
        if let Some(v) = buf {
            for b in 0..bsz {
                for j in 0..h {
                    out[b * h + j] = v[s.state_index(d, b, j)];
                }
            }
        }
        out
    };
    let mut dh = state_at(up.yh);
    let mut dc = state_at(up.yc);
    let (w_off, r_off, b_off) = (d * gh * k, d * gh * h, d * 2 * gh);
    for t in s.steps(d).into_iter().rev() {
        if let Some(y) = up.y {
            for b in 0..bsz {
                for j in 0..h {
                    dh[b * h + j] += y[s.y_index(t, d, b, j)];
                }
            }
        }
        let prev = s.prev_step(d, t);
        let hp: &[f32] = match prev {
            Some(p) => &tr.h[p * bh..(p + 1) * bh],
            None => &tr.h0,
        };
        let base = t * g * bh;
        let pre = |gi: usize, e: usize| tr.pre[base + gi * bh + e];
        let act = |gi: usize, e: usize| tr.act[base + gi * bh + e];
        // Gradient of each gate's pre-activation (the W and Wb path).
        let mut da = vec![0.0f32; g * bh];
        let mut dhp = vec![0.0f32; bh];
        match kind {
            Kind::Rnn => {
                for e in 0..bh {
                    da[e] = dh[e] * s.gate_df(d, 0, pre(0, e));
                }
                add_dtx(&da, hp, h, &mut gr.r[r_off..r_off + gh * h]);
                add_dw(&da, wts.r, h, &mut dhp);
            }
            Kind::Lstm => {
                let cp: &[f32] = match prev {
                    Some(p) => &tr.c[p * bh..(p + 1) * bh],
                    None => &tr.c0,
                };
                let ha = s.acts[d][2];
                let peep = |q: usize, j: usize| wts.p.map_or(0.0, |p| p[q * h + j]);
                let mut dcp = vec![0.0f32; bh];
                for b in 0..bsz {
                    for j in 0..h {
                        let e = b * h + j;
                        let cell = tr.c[t * bh + e];
                        let (i, o, f, c) = (act(0, e), act(1, e), act(2, e), act(3, e));
                        let mut dcell = dc[e] + dh[e] * o * ha.df(cell);
                        let dpo = dh[e] * ha.f(cell) * s.gate_df(d, 1, pre(1, e));
                        dcell += dpo * peep(1, j);
                        let dpi = dcell * c * s.gate_df(d, 0, pre(0, e));
                        let dpf = dcell * cp[e] * s.gate_df(d, 2, pre(2, e));
                        let dpc = dcell * i * s.gate_df(d, 3, pre(3, e));
                        dcp[e] = dcell * f + dpi * peep(0, j) + dpf * peep(2, j);
                        let po = d * 3 * h;
                        gr.p[po + j] += dpi * cp[e];
                        gr.p[po + h + j] += dpo * cell;
                        gr.p[po + 2 * h + j] += dpf * cp[e];
                        for (gi, v) in [dpi, dpo, dpf, dpc].into_iter().enumerate() {
                            da[gi * bh + e] = v;
                        }
                    }
                }
                for gi in 0..g {
                    let blk = &da[gi * bh..(gi + 1) * bh];
                    let rows = r_off + gi * h * h..r_off + (gi + 1) * h * h;
                    add_dtx(blk, hp, h, &mut gr.r[rows]);
                    add_dw(blk, &wts.r[gi * h * h..(gi + 1) * h * h], h, &mut dhp);
                }
                dc = dcp;
            }
            Kind::Gru => {
                let rh = &wts.r[2 * h * h..3 * h * h];
                let rh_rows = r_off + 2 * h * h..r_off + 3 * h * h;
                let mut dz = vec![0.0f32; bh];
                let mut dr = vec![0.0f32; bh];
                for e in 0..bh {
                    let (z, hh) = (act(0, e), act(2, e));
                    dz[e] = dh[e] * (hp[e] - hh);
                    dhp[e] = dh[e] * z;
                    da[2 * bh + e] = dh[e] * (1.0 - z) * s.gate_df(d, 2, pre(2, e));
                }
                let dph = da[2 * bh..].to_vec();
                if s.linear_before_reset {
                    // pre_h = ax_h + r * (h_prev R_h^T + Rb_h)
                    let m = &tr.m[t * bh..(t + 1) * bh];
                    let mut dm = vec![0.0f32; bh];
                    for e in 0..bh {
                        dr[e] = dph[e] * m[e];
                        dm[e] = dph[e] * act(1, e);
                    }
                    add_rb(&dm, h, &mut gr.b[b_off + gh + 2 * h..b_off + gh + 3 * h]);
                    add_dtx(&dm, hp, h, &mut gr.r[rh_rows]);
                    add_dw(&dm, rh, h, &mut dhp);
                } else {
                    // pre_h = ax_h + (r * h_prev) R_h^T + Rb_h
                    let gated: Vec<f32> = (0..bh).map(|e| act(1, e) * hp[e]).collect();
                    add_rb(&dph, h, &mut gr.b[b_off + gh + 2 * h..b_off + gh + 3 * h]);
                    add_dtx(&dph, &gated, h, &mut gr.r[rh_rows]);
                    let mut ds = vec![0.0f32; bh];
                    add_dw(&dph, rh, h, &mut ds);
                    for e in 0..bh {
                        dr[e] = ds[e] * hp[e];
                        dhp[e] += ds[e] * act(1, e);
                    }
                }
                for e in 0..bh {
                    da[e] = dz[e] * s.gate_df(d, 0, pre(0, e));
                    da[bh + e] = dr[e] * s.gate_df(d, 1, pre(1, e));
                }
                let zr = &da[..2 * bh];
                for gi in 0..2 {
                    let blk = &zr[gi * bh..(gi + 1) * bh];
                    let rows = r_off + gi * h * h..r_off + (gi + 1) * h * h;
                    add_dtx(blk, hp, h, &mut gr.r[rows]);
                    add_dw(blk, &wts.r[gi * h * h..(gi + 1) * h * h], h, &mut dhp);
                    let rb = b_off + gh + gi * h..b_off + gh + (gi + 1) * h;
                    add_rb(blk, h, &mut gr.b[rb]);
                }
            }
        }
        // The input path, shared by every kind: W, Wb, X (and Rb but for
        // GRU's h gate, handled above).
        let x = s.x_at(&ops.x, t);
        let mut dx = vec![0.0f32; bsz * k];
        for gi in 0..g {
            let blk = &da[gi * bh..(gi + 1) * bh];
            let rows = w_off + gi * h * k..w_off + (gi + 1) * h * k;
            add_dtx(blk, &x, k, &mut gr.w[rows]);
            add_dw(blk, &wts.w[gi * h * k..(gi + 1) * h * k], k, &mut dx);
            add_rb(blk, h, &mut gr.b[b_off + gi * h..b_off + (gi + 1) * h]);
            if kind != Kind::Gru {
                let rb = b_off + gh + gi * h..b_off + gh + (gi + 1) * h;
                add_rb(blk, h, &mut gr.b[rb]);
            }
        }
        for b in 0..bsz {
            for kk in 0..k {
                gr.x[s.x_index(t, b, kk, k)] += dx[b * k + kk];
            }
        }
        dh = dhp;
    }
    for b in 0..bsz {
        for j in 0..h {
            let at = s.state_index(d, b, j);
            gr.h0[at] += dh[b * h + j];
            if kind == Kind::Lstm {
                gr.c0[at] += dc[b * h + j];
            }
        }
    }
}

/// `db[j] += sum_b d[b, j]`.
fn add_rb(d: &[f32], h: usize, db: &mut [f32]) {
    for row in d.chunks(h) {
        for (b, &v) in db.iter_mut().zip(row) {
            *b += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::recurrent::add_xwt;

    #[test]
    fn products_follow_their_definitions() {
        // d [2 x 2], x [2 x 3]: d^T x is [2 x 3].
        let d = [1.0, 2.0, 3.0, 4.0];
        let x = [1.0, 0.0, 2.0, 0.0, 1.0, 1.0];
        let mut dw = [0.0; 6];
        add_dtx(&d, &x, 3, &mut dw);
        assert_eq!(dw, [1.0, 3.0, 5.0, 2.0, 4.0, 8.0]);
        let mut dx = [0.0; 6];
        add_dw(&d, &x, 3, &mut dx);
        assert_eq!(dx, [1.0, 2.0, 4.0, 3.0, 4.0, 10.0]);
        let mut out = [0.0; 4];
        add_xwt(&x, &x, 3, &mut out);
        assert_eq!(out, [5.0, 2.0, 2.0, 2.0]);
    }
}

//! LSTM, GRU and RNN (ONNX semantics): the attribute and operand checks,
//! the forward pass of one direction with the trace that backward through
//! time reads, and the output shapes.
//!
//! Gates are kept as `G` blocks of `[batch, hidden]` (LSTM `i, o, f, c`,
//! GRU `z, r, h`, RNN one block), gate `g`'s rows of `W`/`R`/`B` being
//! rows `g*H..(g+1)*H`. `clip` bounds each gate's pre-activation before its
//! activation function; `sequence_lens` must be absent or the full length.
//! Results are deterministic: every sum runs in index order on one thread.

use crate::kit::{array, contiguous, f32_input, optional_f32};
use crate::TensorValue;
use crate::{KernelError, KernelResult};
use ndarray::ArrayD;
use std::borrow::Cow;
use wdq_ir::op::RecurrentAttrs;
use wdq_ir::Op;

/// Which recurrent op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Lstm,
    Gru,
    Rnn,
}

impl Kind {
    /// Gate blocks per direction.
    pub(crate) fn gates(self) -> usize {
        match self {
            Kind::Lstm => 4,
            Kind::Gru => 3,
            Kind::Rnn => 1,
        }
    }

    /// Activation functions per direction.
    fn activations(self) -> usize {
        match self {
            Kind::Lstm => 3,
            Kind::Gru => 2,
            Kind::Rnn => 1,
        }
    }

    /// Output slots (`Y`, `Y_h` and, for LSTM, `Y_c`).
    pub(crate) fn outputs(self) -> usize {
        if self == Kind::Lstm {
            3
        } else {
            2
        }
    }
}

/// The recurrent kind and attributes of `op`, if it is one.
pub(crate) fn recurrent_op(op: &Op) -> Option<(Kind, &RecurrentAttrs)> {
    match op {
        Op::LSTM(a) => Some((Kind::Lstm, a)),
        Op::GRU(a) => Some((Kind::Gru, a)),
        Op::RNN(a) => Some((Kind::Rnn, a)),
        _ => None,
    }
}

/// An activation function of the ONNX recurrent ops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Act {
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu(f32),
    HardSigmoid(f32, f32),
    Affine(f32, f32),
    ScaledTanh(f32, f32),
    Softsign,
    Softplus,
    Elu(f32),
    ThresholdedRelu(f32),
}

impl Act {
    /// Parses one name (case-insensitive, as onnxruntime), consuming an alpha
    /// and a beta from the lists when the function takes them.
    fn parse(
        name: &str,
        alpha: &mut impl Iterator<Item = f32>,
        beta: &mut impl Iterator<Item = f32>,
    ) -> Result<Act, KernelError> {
        let mut a = |default: f32| alpha.next().unwrap_or(default);
        Ok(match name.to_ascii_lowercase().as_str() {
            "sigmoid" => Act::Sigmoid,
            "tanh" => Act::Tanh,
            "relu" => Act::Relu,
            "softsign" => Act::Softsign,
            "softplus" => Act::Softplus,
            "leakyrelu" => Act::LeakyRelu(a(0.01)),
            "elu" => Act::Elu(a(1.0)),
            "thresholdedrelu" => Act::ThresholdedRelu(a(1.0)),
            "hardsigmoid" => {
                let al = a(0.2);
                Act::HardSigmoid(al, beta.next().unwrap_or(0.5))
            }
            "affine" => {
                let al = a(1.0);
                Act::Affine(al, beta.next().unwrap_or(0.0))
            }
            "scaledtanh" => {
                let al = a(1.0);
                Act::ScaledTanh(al, beta.next().unwrap_or(1.0))
            }
            _ => {
                return Err(KernelError::Attribute {
                    name: "activations",
                    why: format!("activation function `{name}` is not supported"),
                })
            }
        })
    }

    /// The function.
    pub(crate) fn f(self, x: f32) -> f32 {
        match self {
            Act::Sigmoid => {
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Act::Tanh => x.tanh(),
            Act::Relu => x.max(0.0),
            Act::LeakyRelu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Act::HardSigmoid(a, b) => (a * x + b).clamp(0.0, 1.0),
            Act::Affine(a, b) => a * x + b,
            Act::ScaledTanh(a, b) => a * (b * x).tanh(),
            Act::Softsign => x / (1.0 + x.abs()),
            Act::Softplus => {
                if x > 0.0 {
                    x + (-x).exp().ln_1p()
                } else {
                    x.exp().ln_1p()
                }
            }
            Act::Elu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * (x.exp() - 1.0)
                }
            }
            Act::ThresholdedRelu(a) => {
                if x > a {
                    x
                } else {
                    0.0
                }
            }
        }
    }

    /// The derivative at `x`.
    pub(crate) fn df(self, x: f32) -> f32 {
        match self {
            Act::Sigmoid => {
                let s = self.f(x);
                s * (1.0 - s)
            }
            Act::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Act::Relu => f32::from(u8::from(x > 0.0)),
            Act::LeakyRelu(a) => {
                if x >= 0.0 {
                    1.0
                } else {
                    a
                }
            }
            Act::HardSigmoid(a, b) => {
                let v = a * x + b;
                if v > 0.0 && v < 1.0 {
                    a
                } else {
                    0.0
                }
            }
            Act::Affine(a, _) => a,
            Act::ScaledTanh(a, b) => {
                let t = (b * x).tanh();
                a * b * (1.0 - t * t)
            }
            Act::Softsign => {
                let d = 1.0 + x.abs();
                1.0 / (d * d)
            }
            Act::Softplus => Act::Sigmoid.f(x),
            Act::Elu(a) => {
                if x >= 0.0 {
                    1.0
                } else {
                    a * x.exp()
                }
            }
            Act::ThresholdedRelu(a) => f32::from(u8::from(x > a)),
        }
    }
}

/// Everything the op's attributes and operand shapes fix.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub kind: Kind,
    /// `false`: forward or bidirectional starts forward; direction `d`
    /// runs in reverse when `reverse[d]`.
    pub reverse: Vec<bool>,
    pub hidden: usize,
    pub input: usize,
    pub seq: usize,
    pub batch: usize,
    pub batch_first: bool,
    pub clip: Option<f32>,
    pub linear_before_reset: bool,
    /// Activations of each direction (f, g, h for LSTM).
    pub acts: Vec<Vec<Act>>,
}

impl Spec {
    pub(crate) fn dirs(&self) -> usize {
        self.reverse.len()
    }

    fn clip(&self, x: f32) -> f32 {
        match self.clip {
            Some(c) => x.clamp(-c, c),
            None => x,
        }
    }

    /// The derivative of the clip at `x` (1 inside the bounds).
    fn clip_mask(&self, x: f32) -> f32 {
        match self.clip {
            Some(c) if x < -c || x > c => 0.0,
            _ => 1.0,
        }
    }

    /// `[dirs, batch, H]` (or `[batch, dirs, H]` with layout 1).
    pub(crate) fn state_shape(&self) -> Vec<usize> {
        if self.batch_first {
            vec![self.batch, self.dirs(), self.hidden]
        } else {
            vec![self.dirs(), self.batch, self.hidden]
        }
    }

    /// `[seq, dirs, batch, H]` (or `[batch, seq, dirs, H]` with layout 1).
    pub(crate) fn y_shape(&self) -> Vec<usize> {
        if self.batch_first {
            vec![self.batch, self.seq, self.dirs(), self.hidden]
        } else {
            vec![self.seq, self.dirs(), self.batch, self.hidden]
        }
    }

    /// The input shape, `[seq, batch, input]` or batch first.
    pub(crate) fn x_shape(&self) -> Vec<usize> {
        if self.batch_first {
            vec![self.batch, self.seq, self.input]
        } else {
            vec![self.seq, self.batch, self.input]
        }
    }

    /// Index of `(t, b, k)` of an input-like tensor of inner size `k_len`.
    pub(crate) fn x_index(&self, t: usize, b: usize, k: usize, k_len: usize) -> usize {
        if self.batch_first {
            (b * self.seq + t) * k_len + k
        } else {
            (t * self.batch + b) * k_len + k
        }
    }

    /// Index of `(d, b, j)` of a state tensor.
    pub(crate) fn state_index(&self, d: usize, b: usize, j: usize) -> usize {
        if self.batch_first {
            (b * self.dirs() + d) * self.hidden + j
        } else {
            (d * self.batch + b) * self.hidden + j
        }
    }

    /// Index of `(t, d, b, j)` of `Y`.
    pub(crate) fn y_index(&self, t: usize, d: usize, b: usize, j: usize) -> usize {
        if self.batch_first {
            ((b * self.seq + t) * self.dirs() + d) * self.hidden + j
        } else {
            ((t * self.dirs() + d) * self.batch + b) * self.hidden + j
        }
    }
}

fn shape_error(what: &str, got: &[usize], want: &[usize]) -> KernelError {
    KernelError::Shape(format!("{what} has shape {got:?}, expected {want:?}"))
}

/// The spec of `op` for an input `X` and weight `W` of these shapes.
///
/// # Errors
/// [`KernelError`] for attributes outside the op's definition or shapes
/// that do not fit it.
pub(crate) fn spec(
    kind: Kind,
    a: &RecurrentAttrs,
    x: &[usize],
    w: &[usize],
) -> Result<Spec, KernelError> {
    let bad = |name: &'static str, why: String| KernelError::Attribute { name, why };
    let reverse = match a.direction.as_deref().unwrap_or("forward") {
        "forward" => vec![false],
        "reverse" => vec![true],
        "bidirectional" => vec![false, true],
        d => return Err(bad("direction", format!("`{d}` is not a direction"))),
    };
    let batch_first = match a.layout.unwrap_or(0) {
        0 => false,
        1 => true,
        l => return Err(bad("layout", format!("{l} is neither 0 nor 1"))),
    };
    if a.input_forget.unwrap_or(0) != 0 {
        return Err(KernelError::Unsupported("LSTM input_forget=1".into()));
    }
    if kind != Kind::Lstm && a.input_forget.is_some() {
        return Err(bad("input_forget", "only LSTM has it".into()));
    }
    if kind != Kind::Gru && a.linear_before_reset.is_some() {
        return Err(bad("linear_before_reset", "only GRU has it".into()));
    }
    let clip = match a.clip {
        Some(c) if c > 0.0 => Some(c),
        Some(c) => return Err(bad("clip", format!("{c} is not positive"))),
        None => None,
    };
    let [s0, s1, input] = x[..] else {
        return Err(KernelError::Shape(format!(
            "X has shape {x:?}, expected rank 3"
        )));
    };
    let (seq, batch) = if batch_first { (s1, s0) } else { (s0, s1) };
    let dirs = reverse.len();
    let g = kind.gates();
    let hidden = match (a.hidden_size, w) {
        (Some(h), _) if h > 0 => h as usize,
        (None, [_, rows, _]) if rows % g == 0 && *rows > 0 => rows / g,
        (h, _) => return Err(bad("hidden_size", format!("{h:?} does not give a size"))),
    };
    let want_w = [dirs, g * hidden, input];
    if w != want_w {
        return Err(shape_error("W", w, &want_w));
    }
    let n = kind.activations();
    let names: Vec<String> = match &a.activations {
        None => match kind {
            Kind::Lstm => ["Sigmoid", "Tanh", "Tanh"].map(String::from).to_vec(),
            Kind::Gru => ["Sigmoid", "Tanh"].map(String::from).to_vec(),
            Kind::Rnn => vec!["Tanh".to_string()],
        },
        Some(v) if v.len() == n * dirs => v.clone(),
        Some(v) if v.len() == n => v.clone(),
        Some(v) => {
            return Err(bad(
                "activations",
                format!("{} names for {dirs} direction(s) of {n}", v.len()),
            ))
        }
    };
    // A list of one direction's functions is used for both directions.
    let names: Vec<String> = (0..dirs)
        .flat_map(|d| names[(d * n) % names.len()..][..n].to_vec())
        .collect();
    let mut alpha = a.activation_alpha.clone().unwrap_or_default().into_iter();
    let mut beta = a.activation_beta.clone().unwrap_or_default().into_iter();
    let all: Vec<Act> = names
        .iter()
        .map(|name| Act::parse(name, &mut alpha, &mut beta))
        .collect::<Result<_, _>>()?;
    Ok(Spec {
        kind,
        reverse,
        hidden,
        input,
        seq,
        batch,
        batch_first,
        clip,
        linear_before_reset: a.linear_before_reset.unwrap_or(0) != 0,
        acts: all.chunks(n).map(<[Act]>::to_vec).collect(),
    })
}

/// The operands of one node, checked against the spec.
/// Operands are row-major (copied when a view is not).
pub(crate) struct Operands<'a> {
    pub x: Cow<'a, [f32]>,
    pub w: Cow<'a, [f32]>,
    pub r: Cow<'a, [f32]>,
    pub b: Option<Cow<'a, [f32]>>,
    pub h0: Option<Cow<'a, [f32]>>,
    pub c0: Option<Cow<'a, [f32]>>,
    pub p: Option<Cow<'a, [f32]>>,
}

fn optional<'a>(
    a: Option<&'a ArrayD<f32>>,
    what: &str,
    want: &[usize],
) -> Result<Option<Cow<'a, [f32]>>, KernelError> {
    match a {
        None => Ok(None),
        Some(a) if a.shape() == want => Ok(Some(contiguous(a))),
        Some(a) => Err(shape_error(what, a.shape(), want)),
    }
}

/// Reads and checks the operands `X, W, R, B, sequence_lens, initial_h,
/// initial_c, P` (the first `inputs` slots of a node or gradient node).
pub(crate) fn operands<'a>(
    kind: Kind,
    a: &RecurrentAttrs,
    inputs: &[Option<&'a TensorValue>],
) -> Result<(Spec, Operands<'a>), KernelError> {
    let (x, w, r) = (
        f32_input(inputs, 0)?,
        f32_input(inputs, 1)?,
        f32_input(inputs, 2)?,
    );
    let s = spec(kind, a, x.shape(), w.shape())?;
    let (dirs, g, h) = (s.dirs(), kind.gates(), s.hidden);
    if r.shape() != [dirs, g * h, h] {
        return Err(shape_error("R", r.shape(), &[dirs, g * h, h]));
    }
    if let Some(lens) = inputs.get(4).copied().flatten() {
        let full = lens
            .to_tensor()
            .to_i64_vec()
            .is_some_and(|v| v.len() == s.batch && v.iter().all(|&l| l == s.seq as i64));
        if !full {
            return Err(KernelError::Unsupported(
                "sequence_lens shorter than the sequence".into(),
            ));
        }
    }
    let state = s.state_shape();
    let p = optional_f32(inputs, 7)?;
    if p.is_some() && kind != Kind::Lstm {
        return Err(KernelError::Shape("only LSTM has input P".into()));
    }
    let ops = Operands {
        x: contiguous(x),
        w: contiguous(w),
        r: contiguous(r),
        b: optional(optional_f32(inputs, 3)?, "B", &[dirs, 2 * g * h])?,
        h0: optional(optional_f32(inputs, 5)?, "initial_h", &state)?,
        c0: optional(optional_f32(inputs, 6)?, "initial_c", &state)?,
        p: optional(p, "P", &[dirs, 3 * h])?,
    };
    Ok((s, ops))
}

/// `out[b, j] += sum_k x[b, k] w[j, k]` (`w` is `[n, k]`).
pub(crate) fn add_xwt(x: &[f32], w: &[f32], k: usize, out: &mut [f32]) {
    let n = w.len() / k.max(1);
    for (xr, or) in x.chunks(k).zip(out.chunks_mut(n)) {
        for (o, wr) in or.iter_mut().zip(w.chunks(k)) {
            *o += xr.iter().zip(wr).map(|(a, b)| a * b).sum::<f32>();
        }
    }
}

/// The forward pass of one direction, with what backward reads. Gate
/// buffers are indexed `((t * G + g) * batch + b) * H + j` by time step
/// `t` (not by processing order).
pub(crate) struct Trace {
    /// Gate pre-activations before the clip (LSTM `o` includes the peephole on the new cell).
    pub pre: Vec<f32>,
    /// Gate activations.
    pub act: Vec<f32>,
    /// GRU with linear_before_reset: `h_prev R_h^T + Rb_h`, `[t, b, j]`.
    pub m: Vec<f32>,
    /// Hidden state after step `t`, `[t, b, j]`.
    pub h: Vec<f32>,
    /// LSTM cell after step `t`.
    pub c: Vec<f32>,
    pub h0: Vec<f32>,
    pub c0: Vec<f32>,
}

/// One direction's weights: gate rows of W, R, the two halves of B, P.
pub(crate) struct DirWeights<'a> {
    pub w: &'a [f32],
    pub r: &'a [f32],
    pub wb: Option<&'a [f32]>,
    pub rb: Option<&'a [f32]>,
    pub p: Option<&'a [f32]>,
}

impl Spec {
    /// Time steps in processing order for direction `d`.
    pub(crate) fn steps(&self, d: usize) -> Vec<usize> {
        if self.reverse[d] {
            (0..self.seq).rev().collect()
        } else {
            (0..self.seq).collect()
        }
    }

    /// Time step processed before `t` in direction `d`, if any.
    pub(crate) fn prev_step(&self, d: usize, t: usize) -> Option<usize> {
        if self.reverse[d] {
            (t + 1 < self.seq).then_some(t + 1)
        } else {
            t.checked_sub(1)
        }
    }

    pub(crate) fn weights<'a>(&self, ops: &'a Operands<'_>, d: usize) -> DirWeights<'a> {
        let (g, h) = (self.kind.gates(), self.hidden);
        let gh = g * h;
        DirWeights {
            w: &ops.w[d * gh * self.input..(d + 1) * gh * self.input],
            r: &ops.r[d * gh * h..(d + 1) * gh * h],
            wb: ops.b.as_deref().map(|b| &b[d * 2 * gh..d * 2 * gh + gh]),
            rb: ops
                .b
                .as_deref()
                .map(|b| &b[d * 2 * gh + gh..(d + 1) * 2 * gh]),
            p: ops.p.as_deref().map(|p| &p[d * 3 * h..(d + 1) * 3 * h]),
        }
    }

    /// Initial state of direction `d` as `[batch, H]` (zeros when absent).
    pub(crate) fn initial(&self, state: Option<&[f32]>, d: usize) -> Vec<f32> {
        let (bsz, h) = (self.batch, self.hidden);
        let mut out = vec![0.0; bsz * h];
        if let Some(s) = state {
            for b in 0..bsz {
                for j in 0..h {
                    out[b * h + j] = s[self.state_index(d, b, j)];
                }
            }
        }
        out
    }

    /// `x_t` as `[batch, input]`.
    pub(crate) fn x_at(&self, x: &[f32], t: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.batch * self.input);
        for b in 0..self.batch {
            let at = self.x_index(t, b, 0, self.input);
            out.extend_from_slice(&x[at..at + self.input]);
        }
        out
    }

    /// Runs direction `d`.
    pub(crate) fn forward(&self, ops: &Operands<'_>, d: usize) -> Trace {
        let (g, h, bsz, k) = (self.kind.gates(), self.hidden, self.batch, self.input);
        let wts = self.weights(ops, d);
        let n = self.seq * g * bsz * h;
        let mut tr = Trace {
            pre: vec![0.0; n],
            act: vec![0.0; n],
            m: Vec::new(),
            h: vec![0.0; self.seq * bsz * h],
            c: Vec::new(),
            h0: self.initial(ops.h0.as_deref(), d),
            c0: self.initial(ops.c0.as_deref(), d),
        };
        if self.kind == Kind::Lstm {
            tr.c = vec![0.0; self.seq * bsz * h];
        }
        if self.kind == Kind::Gru && self.linear_before_reset {
            tr.m = vec![0.0; self.seq * bsz * h];
        }
        let acts = &self.acts[d];
        let bh = bsz * h;
        for t in self.steps(d) {
            let prev = self.prev_step(d, t);
            let hp = match prev {
                Some(p) => tr.h[p * bh..(p + 1) * bh].to_vec(),
                None => tr.h0.clone(),
            };
            let x = self.x_at(&ops.x, t);
            // a[g] = x W_g^T + Wb_g (+ h_prev R_g^T + Rb_g except GRU's h gate).
            let mut a = vec![0.0f32; g * bh];
            for gi in 0..g {
                let blk = &mut a[gi * bh..(gi + 1) * bh];
                add_xwt(&x, &wts.w[gi * h * k..(gi + 1) * h * k], k, blk);
                let recurrent = !(self.kind == Kind::Gru && gi == 2);
                if recurrent {
                    add_xwt(&hp, &wts.r[gi * h * h..(gi + 1) * h * h], h, blk);
                }
                for b in 0..bsz {
                    for j in 0..h {
                        let mut v = wts.wb.map_or(0.0, |v| v[gi * h + j]);
                        if recurrent {
                            v += wts.rb.map_or(0.0, |v| v[gi * h + j]);
                        }
                        blk[b * h + j] += v;
                    }
                }
            }
            let base = t * g * bh;
            match self.kind {
                Kind::Rnn => {
                    for (i, &v) in a.iter().enumerate() {
                        tr.pre[base + i] = v;
                        let y = acts[0].f(self.clip(v));
                        tr.act[base + i] = y;
                        tr.h[t * bh + i] = y;
                    }
                }
                Kind::Lstm => {
                    let cp = match prev {
                        Some(p) => tr.c[p * bh..(p + 1) * bh].to_vec(),
                        None => tr.c0.clone(),
                    };
                    let (fa, ga, ha) = (acts[0], acts[1], acts[2]);
                    for b in 0..bsz {
                        for j in 0..h {
                            let e = b * h + j;
                            let peep = |q: usize| wts.p.map_or(0.0, |p| p[q * h + j]);
                            let pi = a[e] + peep(0) * cp[e];
                            let pf = a[2 * bh + e] + peep(2) * cp[e];
                            let pc = a[3 * bh + e];
                            let (i, f, c) = (
                                fa.f(self.clip(pi)),
                                fa.f(self.clip(pf)),
                                ga.f(self.clip(pc)),
                            );
                            let cell = f * cp[e] + i * c;
                            let po = a[bh + e] + peep(1) * cell;
                            let o = fa.f(self.clip(po));
                            for (gi, (p, v)) in
                                [(pi, i), (po, o), (pf, f), (pc, c)].into_iter().enumerate()
                            {
                                tr.pre[base + gi * bh + e] = p;
                                tr.act[base + gi * bh + e] = v;
                            }
                            tr.c[t * bh + e] = cell;
                            tr.h[t * bh + e] = o * ha.f(cell);
                        }
                    }
                }
                Kind::Gru => {
                    let (fa, ga) = (acts[0], acts[1]);
                    let mut zr = vec![0.0f32; 2 * bh];
                    for (i, v) in a[..2 * bh].iter().enumerate() {
                        tr.pre[base + i] = *v;
                        zr[i] = fa.f(self.clip(*v));
                        tr.act[base + i] = zr[i];
                    }
                    let rh = &wts.r[2 * h * h..3 * h * h];
                    let rbh = |j: usize| wts.rb.map_or(0.0, |v| v[2 * h + j]);
                    let mut inner = vec![0.0f32; bh];
                    if self.linear_before_reset {
                        add_xwt(&hp, rh, h, &mut inner);
                        for b in 0..bsz {
                            for j in 0..h {
                                inner[b * h + j] += rbh(j);
                            }
                        }
                        tr.m[t * bh..(t + 1) * bh].copy_from_slice(&inner);
                        for (e, v) in inner.iter_mut().enumerate() {
                            *v *= zr[bh + e];
                        }
                    } else {
                        let gated: Vec<f32> = (0..bh).map(|e| zr[bh + e] * hp[e]).collect();
                        add_xwt(&gated, rh, h, &mut inner);
                        for b in 0..bsz {
                            for j in 0..h {
                                inner[b * h + j] += rbh(j);
                            }
                        }
                    }
                    for e in 0..bh {
                        let p = a[2 * bh + e] + inner[e];
                        let hh = ga.f(self.clip(p));
                        tr.pre[base + 2 * bh + e] = p;
                        tr.act[base + 2 * bh + e] = hh;
                        let z = zr[e];
                        tr.h[t * bh + e] = (1.0 - z) * hh + z * hp[e];
                    }
                }
            }
        }
        tr
    }

    /// Derivative of gate `gi`'s activation at its recorded pre-activation
    /// (clip included).
    pub(crate) fn gate_df(&self, d: usize, gi: usize, pre: f32) -> f32 {
        let act = match (self.kind, gi) {
            (Kind::Lstm, 3) | (Kind::Gru, 2) => self.acts[d][1],
            _ => self.acts[d][0],
        };
        act.df(self.clip(pre)) * self.clip_mask(pre)
    }
}

/// Runs LSTM, GRU or RNN: `Y`, `Y_h` (and `Y_c`).
///
/// # Errors
/// [`KernelError`] for operands or attributes outside the op's definition.
pub(crate) fn run(kind: Kind, a: &RecurrentAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let (s, ops) = operands(kind, a, inputs)?;
    let (bsz, h) = (s.batch, s.hidden);
    let y_shape = s.y_shape();
    let mut y = vec![0.0f32; y_shape.iter().product()];
    let st_len = s.dirs() * bsz * h;
    let (mut yh, mut yc) = (vec![0.0f32; st_len], vec![0.0f32; st_len]);
    for d in 0..s.dirs() {
        let tr = s.forward(&ops, d);
        for t in 0..s.seq {
            for b in 0..bsz {
                for j in 0..h {
                    y[s.y_index(t, d, b, j)] = tr.h[(t * bsz + b) * h + j];
                }
            }
        }
        let last = s.steps(d).last().copied();
        for b in 0..bsz {
            for j in 0..h {
                let e = b * h + j;
                let at = s.state_index(d, b, j);
                (yh[at], yc[at]) = match last {
                    Some(t) => (
                        tr.h[t * bsz * h + e],
                        tr.c.get(t * bsz * h + e).copied().unwrap_or(0.0),
                    ),
                    None => (tr.h0[e], tr.c0[e]),
                };
            }
        }
    }
    let state = s.state_shape();
    let mut out = vec![
        Some(TensorValue::F32(array(&y_shape, y)?)),
        Some(TensorValue::F32(array(&state, yh)?)),
    ];
    if kind == Kind::Lstm {
        out.push(Some(TensorValue::F32(array(&state, yc)?)));
    }
    Ok(out)
}

/// Output shapes for operands `X` and `W` of these shapes (`None` where a
/// shape is unknown).
///
/// # Errors
/// As [`spec`].
pub(crate) fn output_shapes(
    kind: Kind,
    a: &RecurrentAttrs,
    x: Option<&[usize]>,
    w: Option<&[usize]>,
) -> Result<Vec<Option<Vec<usize>>>, KernelError> {
    let n = kind.outputs();
    let (Some(x), Some(w)) = (x, w) else {
        return Ok(vec![None; n]);
    };
    let s = spec(kind, a, x, w)?;
    let mut out = vec![Some(s.y_shape()), Some(s.state_shape())];
    if n == 3 {
        out.push(Some(s.state_shape()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, IxDyn};

    fn ramp(shape: &[usize], scale: f32) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        Array::from_shape_vec(
            IxDyn(shape),
            (0..n)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) * scale)
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn a_transposed_view_gives_the_result_of_its_copy() {
        // X [batch 2, seq 3, in 2] viewed as [seq, batch, in] (what a
        // Transpose node hands over), LSTM hidden 2.
        let x = ramp(&[2, 3, 2], 0.1).permuted_axes(IxDyn(&[1, 0, 2]));
        assert!(x.as_slice().is_none());
        let copy = x.as_standard_layout().into_owned();
        let (w, r) = (ramp(&[1, 8, 2], 0.05), ramp(&[1, 8, 2], 0.03));
        let attrs = RecurrentAttrs {
            hidden_size: Some(2),
            ..RecurrentAttrs::default()
        };
        let run_with = |x: ArrayD<f32>| {
            let vals = [x, w.clone(), r.clone()].map(TensorValue::F32);
            let ins: Vec<_> = vals.iter().map(Some).collect();
            run(Kind::Lstm, &attrs, &ins).unwrap()
        };
        assert_eq!(run_with(x), run_with(copy));
    }
}

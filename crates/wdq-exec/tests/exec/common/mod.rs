//! Helpers shared by the test modules: a tiny LCG, tensor builders,
//! N-d index iteration and comparison.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use wdq_exec::{KernelContext, KernelError, TensorValue};
use wdq_ir::Op;

/// A fixed-seed linear congruential generator (no rand dependency).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
    /// Uniform integer in lo..=hi.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.next_u32() as usize % (hi - lo + 1)
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.unit()).collect()
    }
    pub fn tensor(&mut self, shape: &[usize]) -> TensorValue {
        let n = shape.iter().product();
        f32s(shape, self.vec(n))
    }
}

pub fn f32s(shape: &[usize], data: Vec<f32>) -> TensorValue {
    TensorValue::F32(ArrayD::from_shape_vec(IxDyn(shape), data).unwrap())
}

pub fn i64s(shape: &[usize], data: Vec<i64>) -> TensorValue {
    TensorValue::I64(ArrayD::from_shape_vec(IxDyn(shape), data).unwrap())
}

pub fn data(v: &TensorValue) -> Vec<f32> {
    v.as_f32().unwrap().iter().copied().collect()
}

/// Runs `op` and returns output 0.
pub fn run1(op: &Op, opset: i64, inputs: &[Option<&TensorValue>]) -> TensorValue {
    let mut out = wdq_exec::run_op(op, KernelContext { opset }, inputs).unwrap();
    out.remove(0).unwrap()
}

/// Asserts shapes match and values agree to `tol` (absolute + relative).
pub fn assert_close(got: &TensorValue, want_shape: &[usize], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.shape(), want_shape, "{what}: shape");
    let got = data(got);
    let mut worst = 0.0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * (1.0 + w.abs()),
            "{what}: element {i}: got {g}, want {w}"
        );
        worst = worst.max(err);
    }
}

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Every multi-index of `shape`, row-major.
pub fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let total: usize = shape.iter().product();
    let st = strides(shape);
    (0..total)
        .map(|f| shape.iter().zip(&st).map(|(&d, &s)| (f / s) % d).collect())
        .collect()
}

/// Flat offset of `idx` under `shape`.
pub fn offset(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(strides(shape)).map(|(i, s)| i * s).sum()
}

/// An f32 tensor holding 0, 1, 2, ... in storage order.
pub fn iota(shape: &[usize]) -> TensorValue {
    let n: usize = shape.iter().product();
    f32s(shape, (0..n).map(|i| i as f32).collect())
}

/// Runs `op` and returns every output it produced.
pub fn run_all(
    op: Op,
    opset: i64,
    inputs: &[Option<&TensorValue>],
) -> Result<Vec<TensorValue>, KernelError> {
    Ok(wdq_exec::run_op(&op, KernelContext { opset }, inputs)?
        .into_iter()
        .flatten()
        .collect())
}

/// Runs `op` on present inputs and returns output 0.
pub fn one(op: Op, opset: i64, inputs: &[&TensorValue]) -> TensorValue {
    let ins: Vec<_> = inputs.iter().map(|v| Some(*v)).collect();
    run_all(op, opset, &ins).unwrap().remove(0)
}

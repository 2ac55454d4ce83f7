//! Helpers shared by the test modules.
#![allow(dead_code)]

use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use std::fs::File;
use std::path::{Path, PathBuf};
use wdq_exec::TensorValue;

/// A path under the repository's `fixtures/`.
pub fn fixture(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(sub)
}

/// Every array of an npz, as f64 (floats) or i64 (ints), by key.
pub enum Array {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
}

pub fn read_npz(path: &Path) -> Vec<(String, Array)> {
    let mut npz = NpzReader::new(File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for name in npz.names().unwrap() {
        let key = name.trim_end_matches(".npy").to_string();
        if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<f64>, ndarray::IxDyn>(&name) {
            out.push((key, Array::F64(a)));
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<f32>, ndarray::IxDyn>(&name) {
            out.push((key, Array::F32(a)));
        } else if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<i64>, ndarray::IxDyn>(&name) {
            out.push((key, Array::I64(a)));
        }
    }
    out
}

/// A fixed-seed generator (no rand dependency).
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
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.next_u32() as usize % (hi - lo + 1)
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.unit()).collect()
    }
}

pub fn f32_value(shape: &[usize], data: Vec<f32>) -> TensorValue {
    TensorValue::F32(ArrayD::from_shape_vec(shape.to_vec(), data).unwrap())
}

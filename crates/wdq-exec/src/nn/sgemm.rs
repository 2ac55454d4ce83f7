//! The single, audited entry into the `gemm` crate: `f32` matrix products on
//! strided views of slices.
//!
//! `gemm::gemm` takes raw pointers; this module is the only place in the
//! crate that uses `unsafe`. [`MatRef`] and [`MatMut`] are built only through
//! constructors that check every element they address lies inside their
//! slice, and [`MatMut`] additionally that no two elements share a memory
//! location, so the call below never reads or writes out of bounds and never
//! races with itself.
//!
//! Determinism: for fixed shapes and strides, `gemm` reduces each output
//! element over `k` in an order fixed by its cache blocking, which does not
//! depend on the number of threads (only how output tiles are shared out
//! does). `tests::threads_do_not_change_bits` checks this.

use crate::KernelError;

/// How a product may use threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threads {
    /// On the calling thread only (the caller parallelises at a coarser level).
    Single,
    /// Shared out over the current rayon pool.
    Pool,
}

/// A read-only `rows x cols` matrix over a slice, element `(i, j)` at
/// `i * rs + j * cs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A writable `rows x cols` matrix over a slice whose elements are distinct
/// (row-major-like or column-major-like strides).
#[derive(Debug)]
pub(crate) struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    let last = (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?;
    let end = last.checked_add(1)?;
    (end <= isize::MAX as usize).then_some(end)
}

fn layout_error(
    what: &str,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    len: usize,
) -> KernelError {
    KernelError::Shape(format!(
        "{what} view {rows}x{cols} with strides ({rs}, {cs}) does not fit a buffer of {len}"
    ))
}

impl<'a> MatRef<'a> {
    /// A strided view; checks that every addressed element is in `data`.
    pub(crate) fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self, KernelError> {
        match span(rows, cols, rs, cs) {
            Some(end) if end <= data.len() => Ok(MatRef {
                data,
                rows,
                cols,
                rs,
                cs,
            }),
            _ => Err(layout_error("input", rows, cols, rs, cs, data.len())),
        }
    }

    /// A row-major view (`rs = cols`, `cs = 1`).
    pub(crate) fn row_major(
        data: &'a [f32],
        rows: usize,
        cols: usize,
    ) -> Result<Self, KernelError> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transposed view (no copy).
    pub(crate) fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl<'a> MatMut<'a> {
    /// A strided writable view; checks bounds and that elements are distinct.
    pub(crate) fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self, KernelError> {
        let distinct = rows <= 1 && (cols <= 1 || cs >= 1)
            || cols <= 1 && rs >= 1
            || cs >= 1 && rs >= cols.saturating_mul(cs)
            || rs >= 1 && cs >= rows.saturating_mul(rs);
        match span(rows, cols, rs, cs) {
            Some(end) if end <= data.len() && distinct => Ok(MatMut {
                data,
                rows,
                cols,
                rs,
                cs,
            }),
            _ => Err(layout_error("output", rows, cols, rs, cs, data.len())),
        }
    }

    /// A row-major view (`rs = cols`, `cs = 1`).
    pub(crate) fn row_major(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
    ) -> Result<Self, KernelError> {
        Self::new(data, rows, cols, cols, 1)
    }
}

/// `dst = (accumulate ? dst : 0) + scale * lhs * rhs`.
///
/// # Errors
/// [`KernelError::Shape`] when the operand shapes do not chain.
pub(crate) fn sgemm(
    dst: MatMut<'_>,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    scale: f32,
    threads: Threads,
) -> Result<(), KernelError> {
    if lhs.rows != dst.rows || rhs.cols != dst.cols || lhs.cols != rhs.rows {
        return Err(KernelError::Shape(format!(
            "matrix product {}x{} by {}x{} into {}x{}",
            lhs.rows, lhs.cols, rhs.rows, rhs.cols, dst.rows, dst.cols
        )));
    }
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst.data[i * dst.rs + j * dst.cs] = 0.0;
                }
            }
        }
        return Ok(());
    }
    let parallelism = match threads {
        Threads::Single => gemm::Parallelism::None,
        Threads::Pool => gemm::Parallelism::Rayon(0),
    };
    // Strides fit in isize: `span` checked that the largest offset does.
    let is = |x: usize| x as isize;
    #[allow(unsafe_code)]
    // SAFETY: the constructors checked that every element (i, j) of `dst`,
    // `lhs` and `rhs` for i < rows, j < cols lies inside its slice, and that
    // `dst`'s elements are pairwise distinct; `dst` is borrowed mutably and
    // the inputs shared, so they cannot overlap. Shapes chain (checked above).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            is(dst.cs),
            is(dst.rs),
            accumulate,
            lhs.data.as_ptr(),
            is(lhs.cs),
            is(lhs.rs),
            rhs.data.as_ptr(),
            is(rhs.cs),
            is(rhs.rs),
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn naive(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_and_transposes() {
        let mut seed = 7;
        for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 1, 9), (1, 40, 300)] {
            let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
            let want = naive(&a, &b, m, n, k);
            let mut c = vec![0.0; m * n];
            sgemm(
                MatMut::row_major(&mut c, m, n).unwrap(),
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
                false,
                1.0,
                Threads::Pool,
            )
            .unwrap();
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-4, "{m}x{n}x{k}: {x} vs {y}");
            }
            // (B^T A^T)^T through transposed views into a column-major dst.
            let mut ct = vec![0.0; m * n];
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            sgemm(
                MatMut::new(&mut ct, m, n, 1, m).unwrap(),
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&bt, n, k).unwrap().t(),
                false,
                2.0,
                Threads::Single,
            )
            .unwrap();
            for i in 0..m {
                for j in 0..n {
                    assert!((ct[j * m + i] - 2.0 * want[i * n + j]).abs() < 2e-4);
                }
            }
        }
    }

    #[test]
    fn threads_do_not_change_bits() {
        let mut seed = 11;
        for &(m, n, k) in &[
            (64, 1024, 576),
            (256, 300, 1000),
            (7, 5000, 64),
            (512, 512, 2048),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
            let run = |threads| {
                let mut c = vec![0.5; m * n];
                sgemm(
                    MatMut::row_major(&mut c, m, n).unwrap(),
                    MatRef::row_major(&a, m, k).unwrap(),
                    MatRef::row_major(&b, k, n).unwrap(),
                    true,
                    1.0,
                    threads,
                )
                .unwrap();
                c
            };
            let single = run(Threads::Single);
            let pooled = run(Threads::Pool);
            let four = rayon::ThreadPoolBuilder::new()
                .num_threads(4)
                .build()
                .unwrap();
            let pooled4 = four.install(|| run(Threads::Pool));
            assert!(single
                .iter()
                .zip(&pooled)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
            assert!(single
                .iter()
                .zip(&pooled4)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }

    #[test]
    fn rejects_views_outside_the_buffer() {
        let data = vec![0.0f32; 6];
        assert!(MatRef::new(&data, 2, 3, 3, 1).is_ok());
        assert!(MatRef::new(&data, 3, 3, 3, 1).is_err());
        let mut out = vec![0.0f32; 6];
        assert!(MatMut::new(&mut out, 2, 3, 0, 1).is_err());
        assert!(MatMut::new(&mut out, 2, 3, 1, 2).is_ok());
    }
}

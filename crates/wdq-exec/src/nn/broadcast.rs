//! Numpy broadcasting for elementwise kernels: a zip of two row-major
//! buffers over their broadcast shape ([`broadcast_shapes`]).
//!
//! The zip merges adjacent axes that are contiguous in both operands, so
//! that the inner loop runs over the longest possible stretch with a fixed
//! stride (1 or 0) per operand; same-shape and scalar operands take direct
//! paths. Large outputs are split over threads by whole inner rows: every
//! element is computed by one task and its value does not depend on the split.

use super::parallel::chunks;
use crate::kit::PARALLEL_MIN;
use crate::tensor_ops::broadcast_shapes;
use crate::KernelError;

/// Row-major strides of `shape` seen through broadcast shape `out` (0 on
/// broadcast axes). `shape` must broadcast to `out`.
pub(crate) fn strides_in(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; out.len()];
    let mut step = 1;
    for i in (0..shape.len()).rev() {
        let j = i + out.len() - shape.len();
        strides[j] = if shape[i] == 1 && out[j] != 1 {
            0
        } else {
            step
        };
        step *= shape[i];
    }
    strides
}

/// Axes after merging: (size, stride in a, stride in b), outermost first.
fn coalesce(out: &[usize], sa: &[usize], sb: &[usize]) -> Vec<(usize, usize, usize)> {
    let mut axes: Vec<(usize, usize, usize)> = Vec::with_capacity(out.len());
    for i in 0..out.len() {
        if out[i] == 1 {
            continue;
        }
        let axis = (out[i], sa[i], sb[i]);
        match axes.last_mut() {
            Some(last) if last.1 == axis.1 * axis.0 && last.2 == axis.2 * axis.0 => {
                *last = (last.0 * axis.0, axis.1, axis.2);
            }
            _ => axes.push(axis),
        }
    }
    if axes.is_empty() {
        axes.push((1, 0, 0));
    }
    axes
}

/// Applies `f` to the broadcast pairs of `a` (shape `a_shape`) and `b`.
/// Returns the broadcast shape and the row-major result.
///
/// # Errors
/// [`KernelError::Broadcast`] when the shapes do not broadcast.
pub(crate) fn zip<T, U, F>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    f: F,
) -> Result<(Vec<usize>, Vec<U>), KernelError>
where
    T: Copy + Sync,
    U: Copy + Send + Default,
    F: Fn(T, T) -> U + Sync,
{
    let shape = broadcast_shapes(&[a_shape, b_shape])?;
    let total: usize = shape.iter().product();
    let mut out = vec![U::default(); total];
    if total == 0 {
        return Ok((shape, out));
    }
    if a.len() == total && b.len() == total {
        let c = PARALLEL_MIN;
        chunks(&mut out, c, total, |i, o| {
            let (x, y) = (&a[i * c..i * c + o.len()], &b[i * c..i * c + o.len()]);
            for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                *o = f(x, y);
            }
        });
        return Ok((shape, out));
    }
    let sa = strides_in(a_shape, &shape);
    let sb = strides_in(b_shape, &shape);
    let axes = coalesce(&shape, &sa, &sb);
    let (inner, ia, ib) = axes[axes.len() - 1];
    let outer = &axes[..axes.len() - 1];
    let rows_per_task = PARALLEL_MIN.div_ceil(inner);
    chunks(&mut out, rows_per_task * inner, total, |task, o| {
        for (row, o_row) in (task * rows_per_task..).zip(o.chunks_exact_mut(inner)) {
            let (mut oa, mut ob, mut rest) = (0, 0, row);
            for &(n, s1, s2) in outer.iter().rev() {
                let idx = rest % n;
                rest /= n;
                oa += idx * s1;
                ob += idx * s2;
            }
            match (ia, ib) {
                (1, 1) => {
                    for ((o, &x), &y) in o_row
                        .iter_mut()
                        .zip(&a[oa..oa + inner])
                        .zip(&b[ob..ob + inner])
                    {
                        *o = f(x, y);
                    }
                }
                (1, 0) => {
                    let y = b[ob];
                    for (o, &x) in o_row.iter_mut().zip(&a[oa..oa + inner]) {
                        *o = f(x, y);
                    }
                }
                (0, 1) => {
                    let x = a[oa];
                    for (o, &y) in o_row.iter_mut().zip(&b[ob..ob + inner]) {
                        *o = f(x, y);
                    }
                }
                _ => {
                    for (j, o) in o_row.iter_mut().enumerate() {
                        *o = f(a[oa + j * ia], b[ob + j * ib]);
                    }
                }
            }
        }
    });
    Ok((shape, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_like_numpy() {
        assert_eq!(
            broadcast_shapes(&[&[4, 1, 3], &[2, 1]]).unwrap(),
            vec![4, 2, 3]
        );
        assert_eq!(broadcast_shapes(&[&[], &[2, 3]]).unwrap(), vec![2, 3]);
        assert!(broadcast_shapes(&[&[2, 3], &[3, 2]]).is_err());
    }

    #[test]
    fn zip_matches_index_arithmetic() {
        let a_shape = [2, 3, 1, 5];
        let b_shape = [3, 4, 1];
        let a: Vec<i64> = (0..30).collect();
        let b: Vec<i64> = (0..12).map(|x| x * 100).collect();
        let (shape, out) = zip(&a, &a_shape, &b, &b_shape, |x, y| x + y).unwrap();
        assert_eq!(shape, vec![2, 3, 4, 5]);
        for n in 0..2 {
            for c in 0..3 {
                for h in 0..4 {
                    for w in 0..5 {
                        let want = a[(n * 3 + c) * 5 + w] + b[c * 4 + h];
                        assert_eq!(out[((n * 3 + c) * 4 + h) * 5 + w], want);
                    }
                }
            }
        }
    }
}

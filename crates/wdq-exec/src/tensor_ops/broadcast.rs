//! Numpy-style (multidirectional) broadcasting of shapes and arrays.

use crate::KernelError;
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// The shape all of `shapes` broadcast to: dimensions are aligned from the
/// right, and each pair must be equal or contain a 1.
///
/// # Errors
/// [`KernelError::Broadcast`] naming the first pair that does not broadcast.
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Vec<usize>, KernelError> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for shape in shapes {
        let offset = rank - shape.len();
        let before = out.clone();
        for (i, &d) in shape.iter().enumerate() {
            let o = &mut out[offset + i];
            if *o == d || d == 1 {
                continue;
            }
            if *o == 1 {
                *o = d;
            } else {
                return Err(KernelError::Broadcast {
                    a: before,
                    b: shape.to_vec(),
                });
            }
        }
    }
    Ok(out)
}

/// A read-only view of `a` broadcast to `shape`.
///
/// # Errors
/// [`KernelError::Broadcast`] when `a` does not broadcast to `shape`.
pub(crate) fn view_as<'a, T>(
    a: &'a ArrayD<T>,
    shape: &[usize],
) -> Result<ArrayViewD<'a, T>, KernelError> {
    a.broadcast(IxDyn(shape))
        .ok_or_else(|| KernelError::Broadcast {
            a: a.shape().to_vec(),
            b: shape.to_vec(),
        })
}

/// `a` broadcast to `shape`, as an owned standard-layout array.
///
/// # Errors
/// [`KernelError::Broadcast`] when `a` does not broadcast to `shape`.
pub(crate) fn broadcast_to<T: Clone>(
    a: &ArrayD<T>,
    shape: &[usize],
) -> Result<ArrayD<T>, KernelError> {
    crate::kit::element_count(shape)?;
    Ok(view_as(a, shape)?.to_owned())
}

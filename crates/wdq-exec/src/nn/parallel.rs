//! How kernels share work out: an output buffer is cut into fixed chunks,
//! each computed by one call, over the rayon pool when the work is large
//! and on the calling thread when it is small (handing a small job to the
//! pool costs more than the job: the caller sleeps until a worker wakes).
//!
//! The chunking never depends on the thread count, and each chunk is
//! computed the same way on either path, so results are bit-identical
//! whatever the pool size.

use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};

/// Work, in elements touched by a plain elementwise loop, below which a
/// kernel stays on the calling thread (tens of microseconds: about what a
/// round trip through the pool costs on a busy machine).
pub(crate) const PARALLEL_WORK: usize = 1 << 18;

/// Multiply-adds of a vectorised product that cost about one unit of
/// [`PARALLEL_WORK`].
pub(crate) const MACS_PER_UNIT: usize = 32;

/// Whether `work` is worth sharing out over the pool.
pub(crate) fn worth_sharing(work: usize) -> bool {
    work >= PARALLEL_WORK && rayon::current_num_threads() > 1
}

/// Calls `f(state, index, chunk)` for each `len`-sized chunk of `data` (the
/// last may be shorter), with `state` made by `init` once per task;
/// stops at the first error.
pub(crate) fn try_chunks<T, S, E, I, F>(
    data: &mut [T],
    len: usize,
    work: usize,
    init: I,
    f: F,
) -> Result<(), E>
where
    T: Send,
    E: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, &mut [T]) -> Result<(), E> + Sync + Send,
{
    if len == 0 || data.is_empty() {
        return Ok(());
    }
    if worth_sharing(work) && data.len() > len {
        data.par_chunks_mut(len)
            .enumerate()
            .try_for_each_init(init, |state, (i, chunk)| f(state, i, chunk))
    } else {
        let mut state = init();
        for (i, chunk) in data.chunks_mut(len).enumerate() {
            f(&mut state, i, chunk)?;
        }
        Ok(())
    }
}

/// Calls `f(index, chunk)` for each `len`-sized chunk of `data`.
pub(crate) fn chunks<T, F>(data: &mut [T], len: usize, work: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync + Send,
{
    if len == 0 || data.is_empty() {
        return;
    }
    if worth_sharing(work) && data.len() > len {
        data.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, chunk)| f(i, chunk));
    } else {
        for (i, chunk) in data.chunks_mut(len).enumerate() {
            f(i, chunk);
        }
    }
}

//! Seeded mini-batch order: every epoch is a fresh permutation of the
//! samples drawn from one ChaCha stream, so the same seed gives the same
//! batches on every machine.

use ndarray::Axis;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wdq_exec::TensorValue;

/// An endless stream of shuffled sample-index batches.
pub struct BatchOrder {
    rng: ChaCha8Rng,
    order: Vec<usize>,
    next: usize,
    batch_size: usize,
}

impl BatchOrder {
    /// Batches of `batch_size` (the last of an epoch may be smaller) over
    /// `len` samples, shuffled with `seed`.
    pub fn new(len: usize, batch_size: usize, seed: u64) -> BatchOrder {
        let mut order = BatchOrder {
            rng: ChaCha8Rng::seed_from_u64(seed),
            order: (0..len).collect(),
            next: 0,
            batch_size: batch_size.max(1),
        };
        order.order.shuffle(&mut order.rng);
        order
    }

    /// Batches in one pass over the data.
    pub fn batches_per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// The next batch's sample indices (empty only for an empty dataset).
    pub fn next_batch(&mut self) -> Vec<usize> {
        if self.order.is_empty() {
            return Vec::new();
        }
        if self.next >= self.order.len() {
            self.order.sort_unstable();
            self.order.shuffle(&mut self.rng);
            self.next = 0;
        }
        let end = (self.next + self.batch_size).min(self.order.len());
        let batch = self.order[self.next..end].to_vec();
        self.next = end;
        batch
    }
}

/// The samples `indices` (along axis 0) of `value`.
pub fn gather_samples(value: &TensorValue, indices: &[usize]) -> TensorValue {
    gather_along(value, Some(0), indices)
}

/// The samples `indices` of `value`, whose samples lie along `axis`; a
/// fixed input (`None`: one value for every sample) comes back whole. The
/// one place where a batch is cut out of an input.
pub fn gather_along(value: &TensorValue, axis: Option<usize>, indices: &[usize]) -> TensorValue {
    let Some(axis) = axis else {
        return value.clone();
    };
    macro_rules! pick {
        ($($v:ident),*) => {
            match value { $(TensorValue::$v(a) => TensorValue::$v(a.select(Axis(axis), indices)),)* }
        };
    }
    pick!(F32, F64, I64, I32, I8, U8, I4, U4, Bool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_cover_every_sample_once_and_repeat_with_the_seed() {
        let mut a = BatchOrder::new(10, 4, 7);
        let mut b = BatchOrder::new(10, 4, 7);
        let mut seen: Vec<usize> = (0..3).flat_map(|_| a.next_batch()).collect();
        let again: Vec<usize> = (0..3).flat_map(|_| b.next_batch()).collect();
        assert_eq!(seen, again);
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(a.batches_per_epoch(), 3);
    }
}

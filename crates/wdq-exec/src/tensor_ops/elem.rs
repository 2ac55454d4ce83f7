//! Element-generic plumbing shared by the tensor ops: the [`Elem`] trait,
//! macros that apply one generic body to whichever variant a
//! [`TensorValue`] holds, and [`select_cartesian`], the index-map copy that
//! Slice, Tile, Pad, Gather and nearest Resize reduce to. Input accessors
//! and buffer helpers are in [`crate::kit`].

use crate::kit::{array, element_count};
use crate::{KernelError, TensorValue};
use ndarray::ArrayD;

/// Index value in an index map that selects the fill element instead of a
/// source element.
pub(crate) const FILL: usize = usize::MAX;

/// An element type the tensor ops handle generically.
pub(crate) trait Elem: Copy + Default + PartialOrd + std::fmt::Debug + 'static {
    /// The smallest value (the start of a max reduction).
    const LOWEST: Self;
    /// Conversion from f64 (saturating, as Rust's `as` does).
    fn from_f64(x: f64) -> Self;
    /// Conversion to f64.
    fn to_f64(self) -> f64;
    /// Addition (wrapping for integers, so that sums of input never panic).
    fn plus(self, other: Self) -> Self;
}

macro_rules! elem_numeric {
    ($($t:ty = $lowest:expr, $plus:ident);*) => {$(
        impl Elem for $t {
            const LOWEST: Self = $lowest;
            #[allow(clippy::unnecessary_cast)]
            fn from_f64(x: f64) -> Self { x as $t }
            #[allow(clippy::unnecessary_cast)]
            fn to_f64(self) -> f64 { self as f64 }
            fn plus(self, other: Self) -> Self { elem_numeric!(@$plus self, other) }
        }
    )*};
    (@float $a:ident, $b:ident) => { $a + $b };
    (@int $a:ident, $b:ident) => { $a.wrapping_add($b) };
}
elem_numeric!(
    f32 = f32::NEG_INFINITY, float;
    f64 = f64::NEG_INFINITY, float;
    i64 = i64::MIN, int;
    i32 = i32::MIN, int;
    i8 = i8::MIN, int;
    u8 = u8::MIN, int
);

impl Elem for bool {
    const LOWEST: Self = false;
    fn from_f64(x: f64) -> Self {
        x != 0.0
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn plus(self, other: Self) -> Self {
        self | other
    }
}

/// Applies `$body` (generic over the element type) to the array inside any
/// variant of a `&TensorValue` and wraps the result in the same variant.
macro_rules! map_any {
    ($value:expr, |$a:ident| $body:expr) => {
        match $value {
            TensorValue::F32($a) => TensorValue::F32($body),
            TensorValue::F64($a) => TensorValue::F64($body),
            TensorValue::I64($a) => TensorValue::I64($body),
            TensorValue::I32($a) => TensorValue::I32($body),
            TensorValue::I8($a) => TensorValue::I8($body),
            TensorValue::U8($a) => TensorValue::U8($body),
            TensorValue::I4($a) => TensorValue::I4($body),
            TensorValue::U4($a) => TensorValue::U4($body),
            TensorValue::Bool($a) => TensorValue::Bool($body),
        }
    };
}
pub(crate) use map_any;

/// Like [`map_any`], for an op whose inputs `$first` and `$rest` (a slice of
/// `&TensorValue`, input indices starting at `$offset`) must share one
/// variant; `$others` binds the rest's arrays as `Vec<&ArrayD<T>>`.
macro_rules! map_same {
    ($first:expr, $rest:expr, $offset:expr, |$a:ident, $others:ident| $body:expr) => {
        map_same!(@arms $first, $rest, $offset, $a, $others, $body, [F32, F64, I64, I32, I8, U8, I4, U4, Bool])
    };
    (@arms $first:expr, $rest:expr, $offset:expr, $a:ident, $others:ident, $body:expr, [$($v:ident),*]) => {
        match $first {
            $(TensorValue::$v($a) => {
                let $others = $rest
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        TensorValue::$v(x) => Ok(x),
                        other => Err(KernelError::InputType {
                            index: i + $offset,
                            got: other.dtype(),
                            expected: "the element type of the other data inputs",
                        }),
                    })
                    .collect::<Result<Vec<_>, KernelError>>()?;
                TensorValue::$v($body)
            })*
        }
    };
}
pub(crate) use map_same;

/// The first element of any tensor as f64 (scalar operands such as a pad value).
pub(crate) fn first_as_f64(value: &TensorValue) -> Option<f64> {
    fn first<T: Elem>(a: &ArrayD<T>) -> Option<f64> {
        a.iter().next().map(|x| x.to_f64())
    }
    match value {
        TensorValue::F32(a) => first(a),
        TensorValue::F64(a) => first(a),
        TensorValue::I64(a) => first(a),
        TensorValue::I32(a) => first(a),
        TensorValue::I8(a) | TensorValue::I4(a) => first(a),
        TensorValue::U8(a) | TensorValue::U4(a) => first(a),
        TensorValue::Bool(a) => first(a),
    }
}

/// Copies `a` through one index map per axis: `out[i0, i1, ..] =
/// a[idx[0][i0], idx[1][i1], ..]`, or `fill` where an index is [`FILL`].
///
/// # Errors
/// [`KernelError::Shape`] when the map's rank differs from `a`'s or an index
/// is out of range.
pub(crate) fn select_cartesian<T: Clone>(
    a: &ArrayD<T>,
    idx: &[Vec<usize>],
    fill: &T,
) -> Result<ArrayD<T>, KernelError> {
    if idx.len() != a.ndim() {
        return Err(KernelError::Shape(format!(
            "index map of rank {} for a tensor of rank {}",
            idx.len(),
            a.ndim()
        )));
    }
    for (axis, (map, &dim)) in idx.iter().zip(a.shape()).enumerate() {
        if let Some(bad) = map.iter().find(|&&i| i != FILL && i >= dim) {
            return Err(KernelError::Shape(format!(
                "index {bad} is out of range for axis {axis} of size {dim}"
            )));
        }
    }
    let out_shape: Vec<usize> = idx.iter().map(Vec::len).collect();
    let total = element_count(&out_shape)?;
    let src = a.as_standard_layout();
    let owned;
    let data: &[T] = match src.as_slice() {
        Some(s) => s,
        None => {
            owned = src.iter().cloned().collect::<Vec<_>>();
            &owned
        }
    };
    let mut strides = vec![1usize; a.ndim()];
    for d in (0..a.ndim().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * a.shape()[d + 1];
    }
    let mut out = Vec::with_capacity(total);
    if a.ndim() == 0 {
        out.extend(data.first().cloned());
    } else if total > 0 {
        let block: Vec<usize> = (0..idx.len())
            .map(|d| out_shape[d + 1..].iter().product())
            .collect();
        let walk = Walk {
            data,
            idx,
            strides: &strides,
            block: &block,
            fill,
        };
        walk.run(0, 0, &mut out);
    }
    array(&out_shape, out)
}

struct Walk<'a, T> {
    data: &'a [T],
    idx: &'a [Vec<usize>],
    strides: &'a [usize],
    block: &'a [usize],
    fill: &'a T,
}

impl<T: Clone> Walk<'_, T> {
    fn run(&self, dim: usize, base: usize, out: &mut Vec<T>) {
        let last = dim + 1 == self.idx.len();
        for &i in &self.idx[dim] {
            if i == FILL {
                out.extend(std::iter::repeat_n(self.fill.clone(), self.block[dim]));
            } else if last {
                out.push(self.data[base + i * self.strides[dim]].clone());
            } else {
                self.run(dim + 1, base + i * self.strides[dim], out);
            }
        }
    }
}

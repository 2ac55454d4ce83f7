//! [`QuantParams`]: scales and zero points of one tensor, per tensor or per
//! channel, and how they broadcast over a tensor of any rank.
//!
//! The fields are public so that lowering can read them straight into
//! initializers; every function that uses a `QuantParams` checks it first
//! with [`QuantParams::validate`] and [`QuantParams::layout`].

use crate::error::{QuantError, Result};
use crate::scale::fraction_length;
use crate::spec::QuantSpec;

/// Whether one scale covers the whole tensor or one per slice along an axis
/// (ONNX's `axis` attribute of `QuantizeLinear`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// One scale and zero point for the whole tensor.
    PerTensor,
    /// One scale and zero point per index along `axis` (for Conv and Gemm
    /// weights, the output-channel axis: 0 for Conv, 1 for a MatMul's `[K, N]`
    /// weight).
    PerChannel { axis: usize },
}

/// Scales and zero points for quantizing one tensor onto `spec`'s grid.
///
/// Valid when: `scales` and `zero_points` have the same length, which is 1
/// when `axis` is `None`; every scale is a finite, normal, positive `f32`;
/// every zero point lies in `[spec.qmin(), spec.qmax()]`.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantParams {
    /// One scale per channel (one in all when per tensor).
    pub scales: Vec<f32>,
    /// One zero point per channel, on `spec`'s grid.
    pub zero_points: Vec<i32>,
    /// The channel axis, or `None` for per-tensor parameters.
    pub axis: Option<usize>,
    /// The integer grid.
    pub spec: QuantSpec,
}

/// How a [`QuantParams`] broadcasts over a row-major tensor: the flat buffer
/// is `outer` repetitions of `channels` blocks of `inner` contiguous elements,
/// block `c` using scale `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelLayout {
    /// Product of the dimensions before the axis.
    pub outer: usize,
    /// Number of channels (1 when per tensor).
    pub channels: usize,
    /// Product of the dimensions after the axis (the whole tensor when per
    /// tensor).
    pub inner: usize,
}

impl QuantParams {
    /// Per-tensor parameters.
    ///
    /// # Errors
    /// As [`QuantParams::validate`].
    pub fn per_tensor(scale: f32, zero_point: i32, spec: QuantSpec) -> Result<Self> {
        let params = QuantParams {
            scales: vec![scale],
            zero_points: vec![zero_point],
            axis: None,
            spec,
        };
        params.validate()?;
        Ok(params)
    }

    /// Per-channel parameters along `axis`.
    ///
    /// # Errors
    /// As [`QuantParams::validate`].
    pub fn per_channel(
        scales: Vec<f32>,
        zero_points: Vec<i32>,
        axis: usize,
        spec: QuantSpec,
    ) -> Result<Self> {
        let params = QuantParams {
            scales,
            zero_points,
            axis: Some(axis),
            spec,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks the invariants listed on the type (not the tensor shape: see
    /// [`QuantParams::layout`]).
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`] when the lengths disagree (or are not 1
    /// per tensor), [`QuantError::InvalidScale`] for a scale that is not
    /// finite, normal and positive, [`QuantError::ZeroPointOutOfRange`] for a
    /// zero point off the grid.
    pub fn validate(&self) -> Result<()> {
        if self.zero_points.len() != self.scales.len() {
            return Err(QuantError::LengthMismatch {
                what: "zero points versus scales",
                expected: self.scales.len(),
                found: self.zero_points.len(),
            });
        }
        if self.axis.is_none() && self.scales.len() != 1 {
            return Err(QuantError::LengthMismatch {
                what: "per-tensor scales",
                expected: 1,
                found: self.scales.len(),
            });
        }
        for (index, &value) in self.scales.iter().enumerate() {
            check_scale(index, value)?;
        }
        let (qmin, qmax) = (self.spec.qmin(), self.spec.qmax());
        for (index, &value) in self.zero_points.iter().enumerate() {
            if !(qmin..=qmax).contains(&value) {
                return Err(QuantError::ZeroPointOutOfRange {
                    index,
                    value,
                    qmin,
                    qmax,
                });
            }
        }
        Ok(())
    }

    /// Per tensor or per channel.
    pub fn granularity(&self) -> Granularity {
        match self.axis {
            None => Granularity::PerTensor,
            Some(axis) => Granularity::PerChannel { axis },
        }
    }

    /// The fraction length `n` of every scale `2^-n` (fixed point Qm.n with
    /// `m = bits - 1 - n` when signed), or `None` when some scale is not a
    /// power of two.
    pub fn fraction_lengths(&self) -> Option<Vec<i32>> {
        self.scales.iter().map(|&s| fraction_length(s)).collect()
    }

    /// Validates these parameters against a tensor of shape `shape` and
    /// returns how they broadcast over it.
    ///
    /// # Errors
    /// As [`QuantParams::validate`]; also [`QuantError::AxisOutOfRange`] and
    /// [`QuantError::LengthMismatch`] when the axis does not exist or its
    /// length differs from the number of scales.
    pub fn layout(&self, shape: &[usize]) -> Result<ChannelLayout> {
        self.validate()?;
        let total: usize = shape.iter().product();
        match self.axis {
            None => Ok(ChannelLayout {
                outer: 1,
                channels: 1,
                inner: total,
            }),
            Some(axis) => {
                let Some(&channels) = shape.get(axis) else {
                    return Err(QuantError::AxisOutOfRange {
                        axis,
                        rank: shape.len(),
                    });
                };
                if channels != self.scales.len() {
                    return Err(QuantError::LengthMismatch {
                        what: "scales versus the tensor's channel axis",
                        expected: channels,
                        found: self.scales.len(),
                    });
                }
                let outer = shape[..axis].iter().product();
                let inner = shape[axis + 1..].iter().product();
                Ok(ChannelLayout {
                    outer,
                    channels,
                    inner,
                })
            }
        }
    }
}

impl ChannelLayout {
    /// Calls `f(channel, range)` for every contiguous block of the flat
    /// row-major buffer, in order.
    pub fn for_each_block(&self, mut f: impl FnMut(usize, std::ops::Range<usize>)) {
        let mut start = 0;
        for _ in 0..self.outer {
            for channel in 0..self.channels {
                f(channel, start..start + self.inner);
                start += self.inner;
            }
        }
    }
}

/// Checks that `value`, scale number `index`, is finite, normal and positive.
pub(crate) fn check_scale(index: usize, value: f32) -> Result<()> {
    if value.is_normal() && value > 0.0 {
        Ok(())
    } else {
        Err(QuantError::InvalidScale { index, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let spec = QuantSpec::INT8;
        assert!(QuantParams::per_tensor(0.1, 0, spec).is_ok());
        assert!(matches!(
            QuantParams::per_tensor(0.0, 0, spec),
            Err(QuantError::InvalidScale { .. })
        ));
        assert!(matches!(
            QuantParams::per_tensor(f32::NAN, 0, spec),
            Err(QuantError::InvalidScale { .. })
        ));
        assert!(matches!(
            QuantParams::per_tensor(1e-40, 0, spec),
            Err(QuantError::InvalidScale { .. })
        ));
        assert!(matches!(
            QuantParams::per_tensor(1.0, 128, spec),
            Err(QuantError::ZeroPointOutOfRange { value: 128, .. })
        ));
        assert!(matches!(
            QuantParams::per_channel(vec![1.0, 2.0], vec![0], 0, spec),
            Err(QuantError::LengthMismatch { .. })
        ));
        let bad = QuantParams {
            scales: vec![1.0, 2.0],
            zero_points: vec![0, 0],
            axis: None,
            spec,
        };
        assert!(matches!(
            bad.validate(),
            Err(QuantError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn layouts() {
        let spec = QuantSpec::INT8;
        let p = QuantParams::per_channel(vec![1.0; 3], vec![0; 3], 1, spec).unwrap();
        assert_eq!(
            p.layout(&[2, 3, 4, 5]).unwrap(),
            ChannelLayout {
                outer: 2,
                channels: 3,
                inner: 20
            }
        );
        assert!(matches!(
            p.layout(&[2, 4]),
            Err(QuantError::LengthMismatch { .. })
        ));
        assert!(matches!(
            p.layout(&[3]),
            Err(QuantError::AxisOutOfRange { axis: 1, rank: 1 })
        ));
        let t = QuantParams::per_tensor(1.0, 0, spec).unwrap();
        assert_eq!(
            t.layout(&[2, 3]).unwrap(),
            ChannelLayout {
                outer: 1,
                channels: 1,
                inner: 6
            }
        );
        assert_eq!(t.layout(&[]).unwrap().inner, 1);
        assert_eq!(t.fraction_lengths(), Some(vec![0]));
        let q = QuantParams::per_channel(vec![0.25, 8.0, 0.3], vec![0; 3], 0, spec).unwrap();
        assert_eq!(q.fraction_lengths(), None);
        let q = QuantParams {
            scales: vec![0.25, 8.0],
            ..q
        };
        assert_eq!(q.fraction_lengths(), Some(vec![2, -3]));
        let mut blocks = Vec::new();
        p.layout(&[2, 3])
            .unwrap()
            .for_each_block(|c, r| blocks.push((c, r)));
        assert_eq!(
            blocks,
            vec![
                (0, 0..1),
                (1, 1..2),
                (2, 2..3),
                (0, 3..4),
                (1, 4..5),
                (2, 5..6)
            ]
        );
    }
}

//! Spatial geometry shared by convolution and pooling: kernel, strides,
//! dilations and pads resolved against an input (auto_pad included), with
//! the output size per spatial axis.
//!
//! Invariant: 1-D and 2-D problems are stored as 3-D ones with leading unit
//! axes (kernel 1, stride 1, dilation 1, no padding), so that one set of
//! loops serves every rank up to 3.

use crate::KernelError;

/// Spatial axes supported (1-D, 2-D and 3-D).
pub(crate) const MAX_SPATIAL: usize = 3;

/// Largest kernel size, stride, dilation or pad accepted, so that window
/// arithmetic cannot overflow.
pub(crate) const MAX_ATTR: i64 = u32::MAX as i64;

/// A resolved sliding-window geometry over up to three spatial axes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// Number of real spatial axes (1..=3).
    pub rank: usize,
    pub input: [usize; MAX_SPATIAL],
    pub kernel: [usize; MAX_SPATIAL],
    pub stride: [usize; MAX_SPATIAL],
    pub dilation: [usize; MAX_SPATIAL],
    pub pad_begin: [usize; MAX_SPATIAL],
    pub pad_end: [usize; MAX_SPATIAL],
    pub output: [usize; MAX_SPATIAL],
}

/// Attributes of a sliding window as written on the node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowAttrs<'a> {
    pub auto_pad: Option<&'a str>,
    pub kernel: &'a [usize],
    pub strides: Option<&'a [i64]>,
    pub dilations: Option<&'a [i64]>,
    pub pads: Option<&'a [i64]>,
    pub ceil_mode: bool,
}

fn positive(
    values: Option<&[i64]>,
    rank: usize,
    name: &'static str,
) -> Result<Vec<usize>, KernelError> {
    match values {
        None => Ok(vec![1; rank]),
        Some(v) if v.len() == rank && v.iter().all(|&x| (1..=MAX_ATTR).contains(&x)) => {
            Ok(v.iter().map(|&x| x as usize).collect())
        }
        Some(v) => Err(KernelError::Attribute {
            name,
            why: format!("{v:?} must hold {rank} values in 1..={MAX_ATTR}"),
        }),
    }
}

/// Checks and converts the `kernel_shape` attribute.
pub(crate) fn kernel_shape(values: &[i64], rank: usize) -> Result<Vec<usize>, KernelError> {
    positive(Some(values), rank, "kernel_shape")
}

fn to_3d(v: &[usize], fill: usize) -> [usize; MAX_SPATIAL] {
    let mut out = [fill; MAX_SPATIAL];
    let skip = MAX_SPATIAL - v.len();
    out[skip..].copy_from_slice(v);
    out
}

/// Resolves a window over `input` (the spatial dims only).
///
/// # Errors
/// [`KernelError::Attribute`] for attributes of the wrong length or value,
/// [`KernelError::Shape`] when the window does not fit the padded input.
pub(crate) fn resolve(input: &[usize], attrs: WindowAttrs<'_>) -> Result<Window, KernelError> {
    let rank = input.len();
    if rank == 0 || rank > MAX_SPATIAL {
        return Err(KernelError::Unsupported(format!(
            "{rank} spatial axes (1 to {MAX_SPATIAL} are supported)"
        )));
    }
    if attrs.kernel.len() != rank || attrs.kernel.contains(&0) {
        return Err(KernelError::Attribute {
            name: "kernel_shape",
            why: format!("{:?} does not fit {rank} spatial axes", attrs.kernel),
        });
    }
    let stride = positive(attrs.strides, rank, "strides")?;
    let dilation = positive(attrs.dilations, rank, "dilations")?;
    let mut pad_begin = vec![0usize; rank];
    let mut pad_end = vec![0usize; rank];
    let mut output = vec![0usize; rank];
    let mode = attrs.auto_pad.unwrap_or("NOTSET");
    for i in 0..rank {
        let span = (attrs.kernel[i] - 1) * dilation[i] + 1;
        let (s, n) = (stride[i], input[i]);
        match mode {
            "SAME_UPPER" | "SAME_LOWER" => {
                let out = n.div_ceil(s);
                let total = ((out.max(1) - 1) * s + span).saturating_sub(n);
                let small = total / 2;
                let (b, e) = if mode == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                pad_begin[i] = b;
                pad_end[i] = e;
                output[i] = out;
            }
            "VALID" | "NOTSET" | "" => {
                if mode == "NOTSET" || mode.is_empty() {
                    if let Some(p) = attrs.pads {
                        if p.len() != 2 * rank || p.iter().any(|&x| !(0..=MAX_ATTR).contains(&x)) {
                            return Err(KernelError::Attribute {
                                name: "pads",
                                why: format!(
                                    "{p:?} must hold {} values in 0..={MAX_ATTR}",
                                    2 * rank
                                ),
                            });
                        }
                        pad_begin[i] = p[i] as usize;
                        pad_end[i] = p[i + rank] as usize;
                    }
                }
                let padded = n + pad_begin[i] + pad_end[i];
                if padded < span {
                    return Err(KernelError::Shape(format!(
                        "window of extent {span} does not fit padded input {padded} on spatial axis {i}"
                    )));
                }
                let mut out = if attrs.ceil_mode {
                    (padded - span).div_ceil(s) + 1
                } else {
                    (padded - span) / s + 1
                };
                // A last window starting inside the end padding is dropped.
                if attrs.ceil_mode && (out - 1) * s >= n + pad_begin[i] {
                    out -= 1;
                }
                output[i] = out;
            }
            other => {
                return Err(KernelError::Attribute {
                    name: "auto_pad",
                    why: format!("unknown mode {other:?}"),
                })
            }
        }
    }
    Ok(Window {
        rank,
        input: to_3d(input, 1),
        kernel: to_3d(attrs.kernel, 1),
        stride: to_3d(&stride, 1),
        dilation: to_3d(&dilation, 1),
        pad_begin: to_3d(&pad_begin, 0),
        pad_end: to_3d(&pad_end, 0),
        output: to_3d(&output, 1),
    })
}

impl Window {
    /// Elements of one input plane.
    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }
    /// Elements of one output plane.
    pub fn output_len(&self) -> usize {
        self.output.iter().product()
    }
    /// Taps of the kernel.
    pub fn kernel_len(&self) -> usize {
        self.kernel.iter().product()
    }
    /// The real spatial output dims.
    pub fn output_dims(&self) -> &[usize] {
        &self.output[MAX_SPATIAL - self.rank..]
    }
    /// Whether the window is a plain 1x1 with unit strides and no padding.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1; MAX_SPATIAL]
            && self.stride == [1; MAX_SPATIAL]
            && self.pad_begin == [0; MAX_SPATIAL]
            && self.pad_end == [0; MAX_SPATIAL]
    }

    /// For output index `o` on axis `axis` and kernel tap `k`, the input
    /// index, or `None` when it falls in the padding.
    #[inline]
    pub fn source(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let pos =
            (o * self.stride[axis] + k * self.dilation[axis]).checked_sub(self.pad_begin[axis])?;
        (pos < self.input[axis]).then_some(pos)
    }

    /// The half-open range of output indices on `axis` whose tap `k` reads
    /// inside the input.
    pub fn valid_outputs(&self, axis: usize, k: usize) -> (usize, usize) {
        let (s, off) = (self.stride[axis], k * self.dilation[axis]);
        let pb = self.pad_begin[axis];
        // o * s + off - pb >= 0  <=>  o >= ceil((pb - off) / s)
        let lo = pb.saturating_sub(off).div_ceil(s);
        // o * s + off - pb <= input - 1
        let hi = match (self.input[axis] + pb).checked_sub(off + 1) {
            Some(limit) => limit / s + 1,
            None => 0,
        };
        let hi = hi.min(self.output[axis]);
        (lo.min(hi), hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs<'a>(
        kernel: &'a [usize],
        pads: Option<&'a [i64]>,
        strides: Option<&'a [i64]>,
    ) -> WindowAttrs<'a> {
        WindowAttrs {
            auto_pad: None,
            kernel,
            strides,
            dilations: None,
            pads,
            ceil_mode: false,
        }
    }

    #[test]
    fn output_sizes_and_auto_pad() {
        let w = resolve(&[8, 8], attrs(&[3, 3], Some(&[1, 1, 1, 1]), Some(&[2, 2]))).unwrap();
        assert_eq!(w.output_dims(), &[4, 4]);
        let mut a = attrs(&[3, 3], None, Some(&[2, 2]));
        a.auto_pad = Some("SAME_UPPER");
        let w = resolve(&[8, 8], a).unwrap();
        assert_eq!((w.pad_begin[2], w.pad_end[2], w.output[2]), (0, 1, 4));
        a.auto_pad = Some("SAME_LOWER");
        let w = resolve(&[8, 8], a).unwrap();
        assert_eq!((w.pad_begin[2], w.pad_end[2]), (1, 0));
        a.auto_pad = Some("VALID");
        assert_eq!(resolve(&[8, 8], a).unwrap().output_dims(), &[3, 3]);
        let mut c = attrs(&[2, 2], None, Some(&[2, 2]));
        c.ceil_mode = true;
        assert_eq!(resolve(&[7, 7], c).unwrap().output_dims(), &[4, 4]);
        assert!(resolve(&[2], attrs(&[3], None, None)).is_err());
        assert!(resolve(&[4, 4], attrs(&[3, 3], Some(&[1, 1]), None)).is_err());
    }

    #[test]
    fn valid_range_matches_source() {
        let mut a = attrs(&[3], Some(&[2, 1]), Some(&[2]));
        let d = [2i64];
        a.dilations = Some(&d);
        let w = resolve(&[9], a).unwrap();
        for k in 0..3 {
            let (lo, hi) = w.valid_outputs(2, k);
            for o in 0..w.output[2] {
                assert_eq!(
                    w.source(2, o, k).is_some(),
                    (lo..hi).contains(&o),
                    "k {k} o {o}"
                );
            }
        }
    }
}

//! ConvTranspose (1-D, 2-D and 3-D; groups, strides, dilations, pads,
//! output_padding, output_shape, auto_pad) as a matrix product into patch
//! columns followed by `col2im`.
//!
//! The geometry is the adjoint of a convolution: a [`Window`] whose `input`
//! is this op's output and whose `output` is this op's input, so that the
//! same tap arithmetic serves both directions. With `output_shape`, the
//! total padding is split as onnxruntime does: the odd element goes to the
//! end, except under `SAME_UPPER` where it goes to the beginning.

use super::conv::{group_of, kernel_of};
use super::geometry::{Window, MAX_ATTR, MAX_SPATIAL};
use super::im2col::col2im;
use super::parallel::{try_chunks, worth_sharing, MACS_PER_UNIT};
use super::sgemm::{sgemm, MatMut, MatRef, Threads};
use crate::kit::{array, contiguous, f32_input, optional_f32, single};
use crate::{KernelError, KernelResult, TensorValue};
use wdq_ir::op::ConvAttrs;

fn ints(
    values: Option<&[i64]>,
    rank: usize,
    default: i64,
    min: i64,
    name: &'static str,
) -> Result<Vec<usize>, KernelError> {
    match values {
        None => Ok(vec![default as usize; rank]),
        Some(v) if v.len() == rank && v.iter().all(|&x| (min..=MAX_ATTR).contains(&x)) => {
            Ok(v.iter().map(|&x| x as usize).collect())
        }
        Some(v) => Err(KernelError::Attribute {
            name,
            why: format!("{v:?} must hold {rank} values in {min}..={MAX_ATTR}"),
        }),
    }
}

fn pad3(v: &[usize], fill: usize) -> [usize; MAX_SPATIAL] {
    let mut out = [fill; MAX_SPATIAL];
    out[MAX_SPATIAL - v.len()..].copy_from_slice(v);
    out
}

/// Resolves the adjoint window of a ConvTranspose over spatial input `input`.
pub(crate) fn window(
    attrs: &ConvAttrs,
    input: &[usize],
    kernel: &[usize],
) -> Result<Window, KernelError> {
    let rank = input.len();
    if rank == 0 || rank > MAX_SPATIAL {
        return Err(KernelError::Unsupported(format!(
            "ConvTranspose with {rank} spatial axes"
        )));
    }
    let stride = ints(attrs.strides.as_deref(), rank, 1, 1, "strides")?;
    let dilation = ints(attrs.dilations.as_deref(), rank, 1, 1, "dilations")?;
    let adj = ints(
        attrs.output_padding.as_deref(),
        rank,
        0,
        0,
        "output_padding",
    )?;
    let mode = attrs.auto_pad.as_deref().unwrap_or("NOTSET");
    let explicit = match (mode, attrs.pads.as_deref()) {
        ("NOTSET" | "", Some(p)) => ints(Some(p), 2 * rank, 0, 0, "pads")?,
        ("NOTSET" | "" | "VALID" | "SAME_UPPER" | "SAME_LOWER", _) => vec![0; 2 * rank],
        (other, _) => {
            return Err(KernelError::Attribute {
                name: "auto_pad",
                why: format!("unknown mode {other:?}"),
            })
        }
    };
    let wanted: Option<&[i64]> = match attrs.output_shape.as_deref() {
        Some(s) if s.len() == rank => Some(s),
        Some(s) if s.len() == rank + 2 => Some(&s[2..]),
        Some(s) => {
            return Err(KernelError::Attribute {
                name: "output_shape",
                why: format!("{s:?} does not fit {rank} spatial axes"),
            })
        }
        None => None,
    };
    let (mut begin, mut end, mut output) = (vec![0; rank], vec![0; rank], vec![0; rank]);
    for i in 0..rank {
        if input[i] == 0 {
            return Err(KernelError::Shape(
                "ConvTranspose input has an empty spatial axis".into(),
            ));
        }
        let full = stride[i] * (input[i] - 1) + adj[i] + (kernel[i] - 1) * dilation[i] + 1;
        if let Some(out) = wanted {
            if out[i] < 1 {
                return Err(KernelError::Attribute {
                    name: "output_shape",
                    why: format!("{out:?} must be positive"),
                });
            }
            let total = full.saturating_sub(out[i] as usize);
            let (b, e) = if mode == "SAME_UPPER" {
                (total - total / 2, total / 2)
            } else {
                (total / 2, total - total / 2)
            };
            (begin[i], end[i], output[i]) = (b, e, out[i] as usize);
        } else if mode == "SAME_UPPER" || mode == "SAME_LOWER" {
            let out = input[i] * stride[i];
            let total = full.saturating_sub(out);
            let (b, e) = if mode == "SAME_UPPER" {
                (total / 2, total - total / 2)
            } else {
                (total - total / 2, total / 2)
            };
            (begin[i], end[i], output[i]) = (b, e, out);
        } else {
            let (b, e) = (explicit[i], explicit[i + rank]);
            if full <= b + e {
                return Err(KernelError::Shape(format!(
                    "ConvTranspose pads {b}+{e} leave no output of {full} on axis {i}"
                )));
            }
            (begin[i], end[i], output[i]) = (b, e, full - b - e);
        }
    }
    Ok(Window {
        rank,
        input: pad3(&output, 1),
        kernel: pad3(kernel, 1),
        stride: pad3(&stride, 1),
        dilation: pad3(&dilation, 1),
        pad_begin: pad3(&begin, 0),
        pad_end: pad3(&end, 0),
        output: pad3(input, 1),
    })
}

/// The checked geometry of a ConvTranspose, shared by the kernel, its
/// gradient and shape inference.
pub(crate) struct ConvTransposeShape {
    pub batch: usize,
    pub cin: usize,
    /// Input channels per group.
    pub cin_g: usize,
    /// Output channels per group.
    pub cout_g: usize,
    pub cout: usize,
    pub group: usize,
    /// The adjoint window (its `input` is this op's output).
    pub win: Window,
    /// The shape of `Y`.
    pub out: Vec<usize>,
}

/// Checks input `xs`, weight `ws` and bias shapes against the attributes
/// and resolves the window.
pub(crate) fn check_shapes(
    attrs: &ConvAttrs,
    xs: &[usize],
    ws: &[usize],
    bias: Option<&[usize]>,
) -> Result<ConvTransposeShape, KernelError> {
    if xs.len() < 3 || ws.len() != xs.len() {
        return Err(KernelError::Shape(format!(
            "ConvTranspose input {xs:?} and weight {ws:?} need the same rank >= 3"
        )));
    }
    let group = group_of(attrs)?;
    let (batch, cin) = (xs[0], xs[1]);
    if ws[0] != cin || cin % group != 0 {
        return Err(KernelError::Shape(format!(
            "ConvTranspose input {xs:?} and weight {ws:?} do not fit group {group}"
        )));
    }
    let (cin_g, cout_g) = (cin / group, ws[1]);
    let cout = cout_g * group;
    if bias.is_some_and(|b| b.iter().product::<usize>() != cout) {
        return Err(KernelError::Shape(format!(
            "ConvTranspose bias does not match {cout} output channels"
        )));
    }
    let kernel = kernel_of(attrs, ws)?;
    let win = window(attrs, &xs[2..], &kernel)?;
    let mut out = vec![batch, cout];
    out.extend_from_slice(&win.input[MAX_SPATIAL - win.rank..]);
    Ok(ConvTransposeShape {
        batch,
        cin,
        cin_g,
        cout_g,
        cout,
        group,
        win,
        out,
    })
}

/// ConvTranspose: `Y = conv_transpose(X, W) + B`.
pub(super) fn conv_transpose(attrs: &ConvAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let w = f32_input(inputs, 1)?;
    let bias = optional_f32(inputs, 2)?;
    let ConvTransposeShape {
        batch,
        cin,
        cin_g,
        cout_g,
        cout,
        group,
        win,
        out: dims,
    } = check_shapes(attrs, x.shape(), w.shape(), bias.map(|b| b.shape()))?;
    let (in_plane, out_plane) = (win.output_len(), win.input_len());
    let rows = cout_g * win.kernel_len();
    let (xd, wd) = (contiguous(x), contiguous(w));
    let item = cout * out_plane;
    let mut y = vec![0.0f32; crate::kit::element_count(&dims)?];
    if let Some(b) = bias.map(contiguous) {
        for (plane, &v) in y.chunks_exact_mut(out_plane.max(1)).zip(b.iter().cycle()) {
            plane.fill(v);
        }
    }
    let work = batch * rows * in_plane * cin_g / MACS_PER_UNIT;
    let threads = if batch >= rayon::current_num_threads() || !worth_sharing(work) {
        Threads::Single
    } else {
        Threads::Pool
    };
    if item > 0 {
        try_chunks(&mut y, item, work, Vec::new, |col, n, y_n| {
            col.resize(rows * in_plane, 0.0);
            for g in 0..group {
                let xg = &xd[(n * cin + g * cin_g) * in_plane..][..cin_g * in_plane];
                let wg = &wd[g * cin_g * rows..(g + 1) * cin_g * rows];
                let dst = MatMut::row_major(&mut col[..rows * in_plane], rows, in_plane)?;
                let lhs = MatRef::row_major(wg, cin_g, rows)?.t();
                sgemm(
                    dst,
                    lhs,
                    MatRef::row_major(xg, cin_g, in_plane)?,
                    false,
                    1.0,
                    threads,
                )?;
                col2im(
                    col,
                    cout_g,
                    &win,
                    &mut y_n[g * cout_g * out_plane..(g + 1) * cout_g * out_plane],
                );
            }
            Ok::<(), KernelError>(())
        })?;
    }
    single(TensorValue::F32(array(&dims, y)?))
}

//! Conv (1-D, 2-D and 3-D; groups; strides, dilations, pads, auto_pad).
//!
//! Three paths, chosen per node: depthwise (one input channel per group,
//! rank <= 2) as a direct loop in [`super::depthwise`]; pointwise (1x1,
//! stride 1, no padding) as one matrix product per group on the input as it
//! lies; everything else as `im2col` over tiles of output positions and a
//! matrix product per tile. Batch items run in parallel; each output element
//! is written by one task, in a fixed order.

use super::depthwise;
use super::geometry::{self, Window, WindowAttrs};
use super::im2col::{im2col, im2col_into};
use super::parallel::{try_chunks, worth_sharing, MACS_PER_UNIT};
use super::sgemm::{sgemm, MatMut, MatRef, Threads};
use crate::kit::{array, contiguous, element_count, f32_input, optional_f32, single};
use crate::{KernelError, KernelResult, TensorValue};
use wdq_ir::op::ConvAttrs;

/// Upper bound on the floats of one `im2col` tile (per task).
const TILE_FLOATS: usize = 1 << 19;

/// Output planes up to this size are computed several batch items per
/// matrix product (one product per item would be too narrow to run fast).
const SMALL_PLANE: usize = 256;

/// The checked shape of a convolution.
#[derive(Clone, Debug)]
pub(crate) struct ConvShape {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub group: usize,
    pub window: Window,
}

impl ConvShape {
    /// Input channels per group.
    pub fn in_per_group(&self) -> usize {
        self.in_channels / self.group
    }
    /// Output channels per group.
    pub fn out_per_group(&self) -> usize {
        self.out_channels / self.group
    }
    /// The shape of `Y`.
    pub fn output_shape(&self) -> Vec<usize> {
        let mut dims = vec![self.batch, self.out_channels];
        dims.extend_from_slice(self.window.output_dims());
        dims
    }
}

/// Reads `group` (default 1) and checks it is positive.
pub(crate) fn group_of(attrs: &ConvAttrs) -> Result<usize, KernelError> {
    match attrs.group.unwrap_or(1) {
        g if g >= 1 => Ok(g as usize),
        g => Err(KernelError::Attribute {
            name: "group",
            why: format!("{g} must be >= 1"),
        }),
    }
}

/// The kernel's spatial shape: the weight's, checked against `kernel_shape`.
pub(crate) fn kernel_of(attrs: &ConvAttrs, weight: &[usize]) -> Result<Vec<usize>, KernelError> {
    let from_weight = weight.get(2..).unwrap_or_default().to_vec();
    if from_weight.contains(&0) {
        return Err(KernelError::Shape(format!(
            "weight {weight:?} has an empty kernel axis"
        )));
    }
    if let Some(k) = &attrs.kernel_shape {
        if geometry::kernel_shape(k, from_weight.len())? != from_weight {
            return Err(KernelError::Attribute {
                name: "kernel_shape",
                why: format!("{k:?} differs from the weight's spatial shape {from_weight:?}"),
            });
        }
    }
    Ok(from_weight)
}

/// Checks a Conv's input, weight and bias shapes against its attributes and
/// resolves its window: shared by the kernel, its gradient and shape
/// inference.
pub(crate) fn check_shapes(
    attrs: &ConvAttrs,
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
) -> Result<ConvShape, KernelError> {
    if x.len() < 3 || w.len() != x.len() {
        return Err(KernelError::Shape(format!(
            "Conv input {x:?} and weight {w:?} need the same rank >= 3"
        )));
    }
    let group = group_of(attrs)?;
    let (batch, in_channels, out_channels) = (x[0], x[1], w[0]);
    if in_channels != w[1] * group || out_channels % group != 0 {
        return Err(KernelError::Shape(format!(
            "Conv input {x:?} and weight {w:?} do not fit group {group}"
        )));
    }
    let kernel = kernel_of(attrs, w)?;
    let window = geometry::resolve(
        &x[2..],
        WindowAttrs {
            auto_pad: attrs.auto_pad.as_deref(),
            kernel: &kernel,
            strides: attrs.strides.as_deref(),
            dilations: attrs.dilations.as_deref(),
            pads: attrs.pads.as_deref(),
            ceil_mode: false,
        },
    )?;
    if let Some(b) = bias.filter(|b| b.iter().product::<usize>() != out_channels) {
        return Err(KernelError::Shape(format!(
            "Conv bias {b:?} does not match {out_channels} output channels"
        )));
    }
    Ok(ConvShape {
        batch,
        in_channels,
        out_channels,
        group,
        window,
    })
}

/// Conv: `Y = conv(X, W) + B`.
pub(super) fn conv(attrs: &ConvAttrs, inputs: &[Option<&TensorValue>]) -> KernelResult {
    let x = f32_input(inputs, 0)?;
    let w = f32_input(inputs, 1)?;
    let bias = optional_f32(inputs, 2)?;
    let shape = check_shapes(attrs, x.shape(), w.shape(), bias.map(|b| b.shape()))?;
    let xd = contiguous(x);
    let wd = contiguous(w);
    let bd = bias.map(contiguous);
    let y = conv_forward(&shape, &xd, &wd, bd.as_deref())?;
    single(TensorValue::F32(array(&shape.output_shape(), y)?))
}

/// Runs a checked convolution on row-major buffers; returns `Y` row-major.
pub(crate) fn conv_forward(
    shape: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
) -> Result<Vec<f32>, KernelError> {
    let out_plane = shape.window.output_len();
    let item = shape.out_channels * out_plane;
    let mut y = vec![0.0f32; element_count(&shape.output_shape())?];
    if item == 0 {
        return Ok(y);
    }
    if let Some(b) = bias {
        for (plane, &v) in y.chunks_exact_mut(out_plane).zip(b.iter().cycle()) {
            plane.fill(v);
        }
    }
    let depthwise = shape.in_per_group() == 1 && shape.group > 1 && shape.window.rank <= 2;
    if depthwise {
        depthwise::depthwise(shape, x, w, &mut y);
        return Ok(y);
    }
    let in_item = shape.in_channels * shape.window.input_len();
    let work =
        shape.batch * item * shape.in_per_group() * shape.window.kernel_len() / MACS_PER_UNIT;
    let k = shape.in_per_group() * shape.window.kernel_len();
    if k == 0 {
        // No input channels: the product is empty and Y is the bias.
        return Ok(y);
    }
    let widest = (TILE_FLOATS / k).max(16);
    if shape.batch > 1 && out_plane <= SMALL_PLANE && out_plane * 2 <= widest {
        conv_items_together(shape, x, w, &mut y, widest / out_plane, work)?;
        return Ok(y);
    }
    let threads = if shape.batch >= rayon::current_num_threads() || !worth_sharing(work) {
        Threads::Single
    } else {
        Threads::Pool
    };
    try_chunks(&mut y, item, work, Vec::new, |col, n, y_n| {
        conv_item(
            shape,
            &x[n * in_item..(n + 1) * in_item],
            w,
            y_n,
            col,
            threads,
        )
    })?;
    Ok(y)
}

/// Small planes: `per_task` batch items share one matrix product per group
/// (their patch matrices side by side), which is then added into `y` (which
/// holds the bias). Many small products cost far more than one wide one.
fn conv_items_together(
    shape: &ConvShape,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    per_task: usize,
    work: usize,
) -> Result<(), KernelError> {
    let win = &shape.window;
    let (cg, mg) = (shape.in_per_group(), shape.out_per_group());
    let (in_plane, out_plane) = (win.input_len(), win.output_len());
    let (in_item, item) = (shape.in_channels * in_plane, shape.out_channels * out_plane);
    let k = cg * win.kernel_len();
    let per_task = per_task.clamp(1, shape.batch);
    let tasks = shape.batch.div_ceil(per_task);
    let threads = if tasks >= rayon::current_num_threads() || !worth_sharing(work) {
        Threads::Single
    } else {
        Threads::Pool
    };
    let init = || (Vec::new(), Vec::new());
    try_chunks(y, per_task * item, work, init, |(col, prod), t, y_chunk| {
        let items = y_chunk.len() / item;
        let width = items * out_plane;
        col.resize(k * width, 0.0);
        prod.resize(mg * width, 0.0);
        for g in 0..shape.group {
            for i in 0..items {
                let x_n = &x[(t * per_task + i) * in_item..][..in_item];
                let xg = &x_n[g * cg * in_plane..(g + 1) * cg * in_plane];
                im2col_into(xg, cg, win, 0, out_plane, &mut col[i * out_plane..], width);
            }
            let wg = MatRef::row_major(&w[g * mg * k..(g + 1) * mg * k], mg, k)?;
            let dst = MatMut::row_major(&mut prod[..mg * width], mg, width)?;
            sgemm(
                dst,
                wg,
                MatRef::row_major(&col[..k * width], k, width)?,
                false,
                1.0,
                threads,
            )?;
            for (i, y_n) in y_chunk.chunks_exact_mut(item).enumerate() {
                let yg = &mut y_n[g * mg * out_plane..(g + 1) * mg * out_plane];
                for (m, y_row) in yg.chunks_exact_mut(out_plane).enumerate() {
                    let src = &prod[m * width + i * out_plane..][..out_plane];
                    for (o, v) in y_row.iter_mut().zip(src) {
                        *o += v;
                    }
                }
            }
        }
        Ok(())
    })
}

/// One batch item, all groups: `y_n` already holds the bias.
fn conv_item(
    shape: &ConvShape,
    x_n: &[f32],
    w: &[f32],
    y_n: &mut [f32],
    col: &mut Vec<f32>,
    threads: Threads,
) -> Result<(), KernelError> {
    let win = &shape.window;
    let (cg, mg) = (shape.in_per_group(), shape.out_per_group());
    let (in_plane, out_plane) = (win.input_len(), win.output_len());
    let k = cg * win.kernel_len();
    // Equal tiles of at most TILE_FLOATS (a short last tile multiplies slowly).
    let widest = (TILE_FLOATS / k.max(1)).max(16);
    let tiles = out_plane.div_ceil(widest).max(1);
    let tile = out_plane
        .div_ceil(tiles)
        .next_multiple_of(16)
        .min(out_plane);
    for g in 0..shape.group {
        let xg = &x_n[g * cg * in_plane..(g + 1) * cg * in_plane];
        let wg = MatRef::row_major(&w[g * mg * k..(g + 1) * mg * k], mg, k)?;
        let yg = &mut y_n[g * mg * out_plane..(g + 1) * mg * out_plane];
        if win.is_pointwise() {
            let dst = MatMut::row_major(yg, mg, out_plane)?;
            sgemm(
                dst,
                wg,
                MatRef::row_major(xg, cg, out_plane)?,
                true,
                1.0,
                threads,
            )?;
            continue;
        }
        let mut p0 = 0;
        while p0 < out_plane {
            let p1 = (p0 + tile).min(out_plane);
            let tp = p1 - p0;
            col.resize(k * tp, 0.0);
            im2col(xg, cg, win, p0, p1, &mut col[..k * tp]);
            let dst = MatMut::new(&mut yg[p0..], mg, tp, out_plane, 1)?;
            sgemm(
                dst,
                wg,
                MatRef::row_major(&col[..k * tp], k, tp)?,
                true,
                1.0,
                threads,
            )?;
            p0 = p1;
        }
    }
    Ok(())
}

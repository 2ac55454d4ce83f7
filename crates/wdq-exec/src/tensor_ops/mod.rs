//! Tensor-op kernels: every op outside [`crate::is_compute_op`] except
//! opaque ones — data movement, shape math, comparisons, casts, reductions,
//! resize, quantize/dequantize and constants.
//!
//! Each op's shape rule lives in a planner function that reads the data
//! shape and the control inputs only (never the data), so that static shape
//! inference ([`crate::infer`]) applies exactly the rules the kernels run.
//! Kernels never panic on input: ranks, indices and sizes are checked and
//! reported as [`KernelError`].

mod broadcast;
mod cast;
pub(crate) mod elem;
mod logic;
mod movement;
mod pad;
mod qdq;
mod reduce;
mod resize;
mod shape_ops;

pub use broadcast::broadcast_shapes;

pub(crate) use cast::cast_target;
pub(crate) use movement::{
    concat_shape, gather_shape, slice_plan, split_sizes, tile_plan, transpose_perm,
};
pub(crate) use pad::{pad_amounts, padded_shape};
pub(crate) use qdq::quantized_dtype;
pub(crate) use reduce::{reduce_axes, reduced_shape};
pub(crate) use resize::resize_plan;
pub(crate) use shape_ops::{
    axes_operand, expand_shape, flatten_shape, reshape_spec, reshape_target, shape_of,
    shape_operand, squeeze_shape, unsqueeze_shape,
};

use crate::kit::{int_values, norm_axis, required};
use crate::{KernelContext, KernelError, KernelResult, TensorValue};
use logic::Comparison;
use ndarray::{ArrayD, IxDyn};
use reduce::Reduction;
use wdq_ir::Op;

/// Runs a tensor-op-family op. An equal `Split` without `num_outputs`
/// needs the node's output count: use [`run_with_outputs`] for it.
///
/// # Errors
/// [`KernelError`] for inputs or attributes the kernel cannot handle.
pub fn run(op: &Op, ctx: KernelContext, inputs: &[Option<&TensorValue>]) -> KernelResult {
    run_with_outputs(op, ctx, inputs, None)
}

/// Runs a tensor-op-family op whose node has `outputs` output slots (only
/// an equal `Split` before opset 18 needs the count).
///
/// # Errors
/// [`KernelError`] for inputs or attributes the kernel cannot handle;
/// `KernelError::Unsupported` for compute-family and opaque ops.
pub fn run_with_outputs(
    op: &Op,
    ctx: KernelContext,
    inputs: &[Option<&TensorValue>],
    outputs: Option<usize>,
) -> KernelResult {
    let x = || required(inputs, 0);
    let one = |v: TensorValue| Ok(vec![Some(v)]);
    match op {
        Op::Identity => one(x()?.clone()),
        Op::Dropout(_) => {
            let x = x()?;
            let mask = TensorValue::Bool(ArrayD::from_elem(IxDyn(x.shape()), true));
            Ok(vec![Some(x.clone()), Some(mask)])
        }
        Op::Constant(a) => one(shape_ops::constant(a)?),
        Op::Flatten(a) => {
            let x = x()?;
            one(shape_ops::reshape_value(x, &flatten_shape(x.shape(), a)?)?)
        }
        Op::Reshape(a) => {
            let x = x()?;
            let spec = reshape_spec(a, inputs)?;
            let shape = reshape_target(x.shape(), &spec, a.allowzero.unwrap_or(0) != 0)?;
            one(shape_ops::reshape_value(x, &shape)?)
        }
        Op::Squeeze(a) => {
            let x = x()?;
            let axes = axes_operand(a, inputs)?;
            one(shape_ops::reshape_value(
                x,
                &squeeze_shape(x.shape(), axes.as_deref())?,
            )?)
        }
        Op::Unsqueeze(a) => {
            let x = x()?;
            let axes = axes_operand(a, inputs)?.ok_or(KernelError::MissingInput { index: 1 })?;
            one(shape_ops::reshape_value(
                x,
                &unsqueeze_shape(x.shape(), &axes)?,
            )?)
        }
        Op::Shape(a) => one(shape_of(x()?.shape(), a)?),
        Op::ConstantOfShape(a) => one(shape_ops::constant_of_shape(a, &shape_operand(x()?, 0)?)?),
        Op::Expand => one(shape_ops::expand(
            x()?,
            &shape_operand(required(inputs, 1)?, 1)?,
        )?),
        Op::Range => one(shape_ops::range(
            x()?,
            required(inputs, 1)?,
            required(inputs, 2)?,
        )?),
        Op::Transpose(a) => one(movement::transpose(x()?, a.perm.as_deref())?),
        Op::Concat(a) => {
            let all: Vec<&TensorValue> = inputs.iter().flatten().copied().collect();
            one(movement::concat(&all, a.axis)?)
        }
        Op::Split(a) => {
            let x = x()?;
            let axis = norm_axis(a.axis.unwrap_or(0), x.shape().len(), "axis")?;
            let sizes = split_sizes(a, inputs, x.shape()[axis], outputs)?;
            Ok(movement::split(x, axis, &sizes)?
                .into_iter()
                .map(Some)
                .collect())
        }
        Op::Slice(a) => {
            let x = x()?;
            one(movement::select(
                x,
                &slice_plan(x.shape(), a, inputs, ctx.opset)?,
            )?)
        }
        Op::Gather(a) => one(movement::gather(x()?, required(inputs, 1)?, a.axis)?),
        Op::Tile => {
            let x = x()?;
            let repeats = int_values(required(inputs, 1)?, 1)?;
            one(movement::select(x, &tile_plan(x.shape(), &repeats)?)?)
        }
        Op::Pad(a) => one(pad::pad(a, inputs, x()?)?),
        Op::Resize(a) => one(resize::resize(a, inputs, x()?, ctx.opset)?),
        Op::ReduceMean(a) => one(reduce::reduce(a, inputs, x()?, Reduction::Mean)?),
        Op::ReduceSum(a) => one(reduce::reduce(a, inputs, x()?, Reduction::Sum)?),
        Op::ReduceMax(a) => one(reduce::reduce(a, inputs, x()?, Reduction::Max)?),
        Op::Where => one(logic::where_(
            x()?,
            required(inputs, 1)?,
            required(inputs, 2)?,
        )?),
        Op::Equal => one(logic::compare(
            x()?,
            required(inputs, 1)?,
            Comparison::Equal,
        )?),
        Op::Greater => one(logic::compare(
            x()?,
            required(inputs, 1)?,
            Comparison::Greater,
        )?),
        Op::Less => one(logic::compare(
            x()?,
            required(inputs, 1)?,
            Comparison::Less,
        )?),
        Op::Not => one(logic::not(x()?)?),
        Op::Cast(a) => one(cast::cast(x()?, cast_target(a.to)?)?),
        Op::QuantizeLinear(a) => one(qdq::quantize(a, inputs)?),
        Op::DequantizeLinear(a) => one(qdq::dequantize(a, inputs)?),
        other => Err(KernelError::Unsupported(format!(
            "{} is not a tensor op",
            other.op_type()
        ))),
    }
}

//! What each default-domain schema change asks of a node: nothing (types
//! added, optional attributes or inputs added with the old behaviour as
//! default), a rewrite by an adapter, or a refusal.
//!
//! Every change up to [`super::history::MAX_TARGET`] that is not listed in
//! [`step`] was reviewed as compatible.

use super::adapters;
use super::edit::{NodeAttrs, Rewriter};
use super::infer::Facts;
use wdq_ir::NodeId;

/// Rewrites a node for the schema of one version. `Err` says why not.
pub(crate) type Adapter =
    fn(&mut Rewriter, &Facts, NodeId, &mut NodeAttrs, i64) -> Result<(), String>;

/// What the change of `op`'s schema at `version` needs.
pub(crate) enum Step {
    /// The old node is valid, with the same meaning, under the new schema.
    Same,
    Rewrite(Adapter),
    Refuse(&'static str),
}

/// Ops that lost `consumed_inputs` at opset 6.
const CONSUMED_INPUTS_6: &[&str] = &[
    "Abs",
    "Add",
    "BatchNormalization",
    "Ceil",
    "Clip",
    "Div",
    "Dropout",
    "Elu",
    "Exp",
    "Floor",
    "HardSigmoid",
    "InstanceNormalization",
    "LeakyRelu",
    "Log",
    "Max",
    "Mean",
    "Min",
    "Mul",
    "Neg",
    "PRelu",
    "Reciprocal",
    "Relu",
    "Selu",
    "Sigmoid",
    "Sqrt",
    "Sub",
    "Sum",
    "Tanh",
];
/// Ops that lost the `broadcast`/`axis` attributes at opset 7.
const BROADCAST_7: &[&str] = &[
    "Add", "And", "Div", "Equal", "Greater", "Less", "Mul", "Or", "Pow", "Sub", "Xor",
];
/// Reductions whose `axes` attribute became an input at opset 18.
const REDUCE_18: &[&str] = &[
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSumSquare",
];

/// The step for the change of `op`'s schema at `version`.
pub(crate) fn step(op: &str, version: i64) -> Step {
    use Step::{Refuse, Rewrite, Same};
    match (op, version) {
        (_, 6) if CONSUMED_INPUTS_6.contains(&op) => Rewrite(adapters::drop_consumed_inputs),
        (_, 7) if BROADCAST_7.contains(&op) => Rewrite(adapters::legacy_broadcast),
        ("Gemm", 7) => Rewrite(adapters::drop_broadcast),
        ("BatchNormalization", 7 | 9 | 14) => Rewrite(adapters::batch_norm),
        ("Dropout", 7) => Rewrite(adapters::drop_is_test),
        ("Dropout", 10) => Rewrite(adapters::dropout_mask_bool),
        ("Dropout", 12) => Rewrite(adapters::dropout_ratio_input),
        ("Clip", 11) => Rewrite(adapters::clip_inputs),
        ("Concat", 4) => Rewrite(adapters::concat_axis),
        ("Cast", 6) => Rewrite(adapters::cast_to_code),
        ("Pad", 2) => Rewrite(adapters::pad_rename),
        ("Pad", 11) => Rewrite(adapters::pad_inputs),
        ("Reshape", 5) => Rewrite(adapters::reshape_input),
        ("Slice", 10) => Rewrite(adapters::slice_inputs),
        ("Split", 2) => Rewrite(adapters::split_no_input),
        ("Split", 13) => Rewrite(adapters::split_input),
        ("Split", 18) => Rewrite(adapters::split_num_outputs),
        ("Squeeze" | "Unsqueeze" | "ReduceSum", 13) => Rewrite(adapters::axes_input),
        (_, 18) if REDUCE_18.contains(&op) => Rewrite(adapters::axes_input),
        ("Softmax" | "LogSoftmax" | "Hardmax", 13) => Rewrite(adapters::softmax_axis),
        ("Resize", 11) => Rewrite(adapters::resize_roi),
        ("Resize", 13) => Rewrite(adapters::resize_13),
        ("Upsample", 7) => Rewrite(adapters::upsample_7),
        ("Upsample", 9) => Rewrite(adapters::upsample_scales_input),
        ("Upsample", 10) => Rewrite(adapters::upsample_to_resize),
        ("Scatter", 11) => Rewrite(adapters::scatter_to_elements),
        ("Tile", 6) => Rewrite(adapters::tile_repeats),
        ("TopK", 10) => Rewrite(adapters::topk_k_input),
        ("GlobalLpPool" | "LpPool", 2) => Rewrite(adapters::lp_pool_p),
        ("GRU" | "LSTM" | "RNN", 7) => Rewrite(adapters::rnn_output_sequence),
        ("RoiAlign", 16) => Rewrite(adapters::roi_align_mode),
        ("GridSample", 20) => Rewrite(adapters::grid_sample_mode),
        ("Scan", 9) => Refuse("Scan-8's batch axis and sequence_lens have no Scan-9 form here"),
        ("DFT", 20) => Refuse("moving DFT's axis attribute to an input is not supported"),
        ("GroupNormalization", 21) => {
            Refuse("GroupNormalization-21 takes per-channel scale and bias; converting per-group ones is not supported")
        }
        _ => Same,
    }
}

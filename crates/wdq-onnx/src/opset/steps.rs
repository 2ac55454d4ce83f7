//! What each default-domain schema change asks of a node: nothing (types
//! added, optional attributes or inputs added with the old behaviour as
//! default), a rewrite by an adapter, or a refusal.
//!
//! Every change up to [`super::history::MAX_TARGET`] that is not listed in
//! [`step`] was reviewed as compatible. [`down_step`] undoes the changes
//! from [`MIN_DOWN_TARGET`] on; every change it does not list only added
//! element types (the node keeps its meaning under the older schema).

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
    /// (Downgrades.) Attributes the change added: each is dropped when it
    /// holds the value that gives the older behaviour, else refused.
    Drop(&'static [(&'static str, Older)]),
    Refuse(&'static str),
}

/// The value of an added attribute under which a node behaves as under the
/// older schema (absent always qualifies).
pub(crate) enum Older {
    Int(i64),
    Str(&'static str),
    /// A list of ints all equal to 1 (dilations).
    Ones,
    /// Only absence.
    Absent,
}

/// Lowest opset a downgrade may reach: below it, changes of meaning
/// (Softmax's axis, attributes that became inputs) are not undone.
pub const MIN_DOWN_TARGET: i64 = 13;

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
        ("GroupNormalization", 21) => Rewrite(adapters::group_norm_per_channel),
        _ => Same,
    }
}

/// What undoing the change of `op`'s schema at `version` needs, for a
/// downgrade to an opset below `version`; `introduced` says that `version`
/// is the op's first, so the node must be rewritten as other ops.
pub(crate) fn down_step(op: &str, version: i64, introduced: bool) -> Step {
    use Older::{Absent, Int, Ones, Str};
    use Step::{Drop, Refuse, Rewrite, Same};
    match (op, version) {
        ("LayerNormalization", 17) => Rewrite(adapters::layer_norm_decomposed),
        ("HardSwish", 14) => Rewrite(adapters::hard_swish_decomposed),
        ("Mish", 18) => Rewrite(adapters::mish_decomposed),
        ("Gelu", 20) => Rewrite(adapters::gelu_decomposed),
        ("Shape", 15) => Rewrite(adapters::shape_range_as_slice),
        (_, 18) if REDUCE_18.contains(&op) => Rewrite(adapters::axes_attribute),
        ("Split", 18) => Rewrite(adapters::split_drop_num_outputs),
        ("Reshape", 14) => Rewrite(adapters::reshape_drop_allowzero),
        ("Pad", 18) => Rewrite(adapters::pad_no_axes),
        ("BatchNormalization", 14) => Drop(&[("training_mode", Int(0))]),
        ("GRU" | "LSTM" | "RNN", 14) => Drop(&[("layout", Int(0))]),
        ("LpPool", 18) => Drop(&[("ceil_mode", Int(0)), ("dilations", Ones)]),
        ("AveragePool", 19) => Drop(&[("dilations", Ones)]),
        ("Cast" | "CastLike", 19) => Drop(&[("saturate", Int(1))]),
        ("QuantizeLinear", 19) => Drop(&[("saturate", Int(1))]),
        ("QuantizeLinear", 21) => Drop(&[("block_size", Int(0)), ("output_dtype", Int(0))]),
        ("DequantizeLinear", 21) => Drop(&[("block_size", Int(0))]),
        ("Pad", 19) => Drop(&[("mode", Str("constant"))]),
        ("Resize", 18) => Drop(&[
            ("antialias", Int(0)),
            ("axes", Absent),
            ("keep_aspect_ratio_policy", Str("stretch")),
        ]),
        ("ScatterElements" | "ScatterND", 16) => Drop(&[("reduction", Str("none"))]),
        ("RoiAlign", 16) => Rewrite(adapters::roi_align_old_mode),
        ("GridSample", 20) => Rewrite(adapters::grid_sample_old_mode),
        ("Resize", 19) | ("ScatterElements" | "ScatterND", 18) => {
            Rewrite(adapters::mode_known_before)
        }
        ("GroupNormalization", 21) => {
            Refuse("GroupNormalization-21's per-channel scale and bias have no per-group form here")
        }
        ("DFT", 20) => Refuse("moving DFT's axis input back to an attribute is not supported"),
        _ if introduced => {
            Refuse("the op does not exist at the target opset and is not decomposed here")
        }
        _ => Same,
    }
}

/// The next schema change of `op` (whose `versions` the history lists) on
/// the way from opset `at` to `target`, and what it needs: upwards the
/// first version in `(at, target]`, downwards the last in `(target, at]`.
pub(crate) fn next_change(op: &str, versions: &[i64], at: i64, target: i64) -> Option<(i64, Step)> {
    if target >= at {
        let v = versions
            .iter()
            .skip(1)
            .copied()
            .find(|&v| v > at && v <= target)?;
        Some((v, step(op, v)))
    } else {
        let v = versions
            .iter()
            .rev()
            .copied()
            .find(|&v| v <= at && v > target)?;
        Some((v, down_step(op, v, v == versions[0])))
    }
}

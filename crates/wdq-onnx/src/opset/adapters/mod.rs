//! The adapters [`super::steps::step`] names: each rewrites one node for
//! the schema of one opset version, or says why it cannot.

mod decompose;
mod downgrade;
mod inputs;
mod legacy;
mod semantics;

pub(crate) use decompose::{
    gelu_decomposed, hard_swish_decomposed, layer_norm_decomposed, mish_decomposed,
    shape_range_as_slice,
};
pub(crate) use downgrade::{
    axes_attribute, drop_older, grid_sample_old_mode, mode_known_before, pad_no_axes,
    reshape_drop_allowzero, roi_align_old_mode, split_drop_num_outputs,
};
pub(crate) use inputs::{
    axes_input, clip_inputs, dropout_ratio_input, pad_inputs, reshape_input, slice_inputs,
    split_input, topk_k_input, upsample_scales_input,
};
pub(crate) use legacy::{
    batch_norm, cast_to_code, concat_axis, drop_broadcast, drop_consumed_inputs, drop_is_test,
    dropout_mask_bool, legacy_broadcast, lp_pool_p, pad_rename, rnn_output_sequence,
    split_no_input, tile_repeats, upsample_7,
};
pub(crate) use semantics::{
    grid_sample_mode, group_norm_per_channel, resize_13, resize_roi, roi_align_mode,
    scatter_to_elements, softmax_axis, split_num_outputs, upsample_to_resize,
};

/// What an adapter returns: `Err` says why the node cannot be rewritten.
type Outcome = Result<(), String>;

//! The crate's one error type.

use wdq_ir::VerifyError;
use wdq_quant::QuantError;

/// Why a model could not be lowered. Layers that merely cannot be quantized
/// are not errors: they are reported in [`crate::Lowered::skipped`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LowerError {
    /// The model's default-domain opset is below what the emitted ops need.
    /// Convert the model first (`wdq_onnx::convert_opset(&mut model, need)`).
    #[error("the lowered model needs opset {need} ({why}), but the model has opset {have}; convert it first")]
    OpsetTooLow {
        have: i64,
        need: i64,
        why: &'static str,
    },
    /// The plan names a node that is not a weighted layer of the model.
    #[error("the plan names node #{node}, which is not a weighted layer")]
    NotALayer { node: u32 },
    /// The plan asks for a bit width outside `2..=8`.
    #[error("layer `{node}`: {bits} bits is not supported (expected 2..=8)")]
    InvalidBits { node: String, bits: u8 },
    /// An activation point that the lowering quantizes has no range.
    #[error("no calibrated range for activation `{value}`")]
    MissingRange { value: String },
    /// Scales, zero points or codes could not be computed for a tensor.
    #[error("quantizing `{tensor}` of layer `{node}`: {source}")]
    Quant {
        node: String,
        tensor: String,
        #[source]
        source: QuantError,
    },
    /// A new tensor could not be built (a bug of this crate, reported
    /// rather than panicking).
    #[error("building tensor `{tensor}`: {why}")]
    Tensor { tensor: String, why: String },
    /// The lowered graph broke an IR invariant (a bug of this crate).
    #[error("the lowered graph is invalid: {source}")]
    Verify {
        #[from]
        source: VerifyError,
    },
}

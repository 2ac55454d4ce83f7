//! onnx-wdq lowering: a model (float, or already QDQ) and a per-layer bit
//! plan to a QDQ model that onnxruntime and NPU toolchains (QNN, OpenVINO,
//! TensorRT) load.
//!
//! What [`lower`] emits, for each layer of the [`QuantPlan`]:
//!
//! - the weight as symmetric signed codes at the layer's bits (zero point
//!   0), per output channel or per tensor, float or power-of-two scales, in
//!   an INT4 initializer (4 bits or fewer, [`Int4Storage::Packed`]) or an
//!   int8 one, behind a `DequantizeLinear` that the layer reads instead;
//!   weights found through `Identity`/`Constant` nodes or behind an existing
//!   `DequantizeLinear` are requantized from their float value, and the old
//!   chain is dropped;
//! - a `QuantizeLinear -> DequantizeLinear` pair (uint8 asymmetric by
//!   default) on the layer's data input and output ([`activation_points`]),
//!   from caller-calibrated [`ActivationRanges`]; graph outputs are never
//!   quantized and every graph input and output keeps its name;
//! - the bias as int32 with scale `s_x * s_w` when the data input is
//!   quantized ([`BiasMode::Int32`]), else float.
//!
//! Layers that cannot be quantized are reported in [`Lowered::skipped`] and
//! left as they were. The lowering never changes the opset: it fails with
//! [`LowerError::OpsetTooLow`] and the caller converts first (see
//! [`required_opset`]). The output is deterministic and verified.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let model = wdq_ir::Model::default();
//! use wdq_lower::{activation_points, lower, ActivationRanges, LowerOptions, QuantPlan};
//! let options = LowerOptions::default();
//! let points = activation_points(&model, &options);
//! let ranges = ActivationRanges(points.iter().map(|&p| (p, (0.0, 6.0))).collect());
//! let lowered = lower(&model, &QuantPlan::default(), &ranges, &options)?;
//! # let _ = lowered;
//! # Ok(())
//! # }
//! ```

mod affine;
mod check;
mod emit;
mod error;
mod lower;
mod options;
mod points;
mod prepare;
mod profile;
mod resolve;
mod rewrite;
mod site;

pub use check::{check, CheckReport, Violation};
pub use error::LowerError;
pub use lower::{lower, required_opset, Lowered, LoweredLayer, SkippedLayer};
pub use options::{
    ActivationRanges, ActivationType, BiasMode, Int4Storage, LayerChoice, LowerOptions, QuantPlan,
    WeightGranularity,
};
pub use points::activation_points;
pub use prepare::{FoldIntoLayers, Folded, FOLDED_KEY};
pub use profile::{LayerKind, Profile, Target, PROFILES};
/// How scales are chosen (`--scale float|pow2`): wdq-quant's type.
pub use wdq_quant::ScaleMode;
/// The grid of weight codes (`--weight-range symmetric|full`).
pub use wdq_quant::WeightRange;

#[cfg(test)]
mod tests;

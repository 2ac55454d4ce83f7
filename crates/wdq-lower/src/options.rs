//! What the caller asks for: the per-layer bit plan, the lowering options
//! and the calibrated activation ranges.

use std::collections::{BTreeMap, HashMap};
use wdq_ir::{DType, NodeId, ValueId};
use wdq_quant::{QuantSpec, ScaleMode, WeightRange};

/// The bit width chosen for one layer's weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LayerChoice {
    /// Weight bits, in `2..=8` (4 and 8 typically).
    pub bits: u8,
}

/// One scale per output channel, or one for the whole weight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WeightGranularity {
    /// One scale per output channel: axis 0 for Conv, 1 for ConvTranspose
    /// (per tensor when it is grouped), 0 or 1 for Gemm by `transB`, the
    /// last axis for a MatMul's constant B.
    #[default]
    PerChannel,
    /// One scale per weight tensor.
    PerTensor,
}

/// How a quantized layer's bias is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BiasMode {
    /// int32 with scale `s_x * s_w` (per output channel) behind a
    /// `DequantizeLinear`, when the layer's data input is quantized; float
    /// otherwise.
    #[default]
    Int32,
    /// The float bias, untouched.
    Float,
}

/// Element type of the activation `QuantizeLinear`/`DequantizeLinear` pairs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ActivationType {
    /// uint8, asymmetric.
    #[default]
    U8,
    /// int8, asymmetric.
    I8,
    /// uint16, asymmetric (needs opset 21).
    U16,
    /// int16, asymmetric (needs opset 21).
    I16,
    /// No activation quantization: weight-only lowering, float biases.
    None,
}

impl ActivationType {
    /// The integer grid, or `None` when activations stay float.
    pub fn spec(self) -> Option<QuantSpec> {
        match self {
            ActivationType::U8 => Some(QuantSpec::UINT8),
            ActivationType::I8 => Some(QuantSpec::INT8),
            ActivationType::U16 => Some(QuantSpec::UINT16),
            ActivationType::I16 => Some(QuantSpec::INT16),
            ActivationType::None => None,
        }
    }

    /// The ONNX element type of the quantized activations.
    pub fn dtype(self) -> Option<DType> {
        self.spec().map(|s| s.storage_dtype())
    }
}

/// How weights of 4 bits or fewer are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Int4Storage {
    /// ONNX INT4 initializers (packed two per byte on export): needs opset
    /// 21 and IR version 10.
    #[default]
    Packed,
    /// 4-bit codes in int8 containers, for runtimes without INT4.
    Int8,
}

/// Everything that shapes the emitted model besides the plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LowerOptions {
    /// Weight scales per output channel (default) or per tensor.
    pub granularity: WeightGranularity,
    /// Float (default) or power-of-two scales, for weights and activations.
    pub scale: ScaleMode,
    /// int32 biases (default) or float ones.
    pub bias: BiasMode,
    /// Element type of the activation pairs (default uint8), or none.
    pub activations: ActivationType,
    /// INT4 initializers (default) or int8 containers for 4-bit weights.
    pub int4_storage: Int4Storage,
    /// The signed grid of weight codes: symmetric (default, `[-7, 7]` at 4
    /// bits) or the full range (`[-8, 7]`).
    pub weight_range: WeightRange,
    /// Activation pairs with the symmetric zero point (0 on a signed grid)
    /// and the scale of `max(|min|, |max|)`, for targets that take no other
    /// (TensorRT, Vitis); asymmetric by default.
    pub symmetric_activations: bool,
}

/// The bit width of each layer to quantize, keyed by the layer's node.
/// Weighted layers that are not in the map stay as they are (float).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuantPlan {
    pub layers: BTreeMap<NodeId, LayerChoice>,
}

/// Calibrated `(min, max)` of each activation point (see
/// [`crate::activation_points`]), computed by the caller on the float model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivationRanges(pub HashMap<ValueId, (f32, f32)>);

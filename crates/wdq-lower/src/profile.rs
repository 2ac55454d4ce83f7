//! Target profiles: what a runtime or NPU toolchain takes, as one small
//! declarative table per target ([`Target::profile`]). A profile lists, for
//! each choice of the lowering, the values the target accepts (the first is
//! the default); which op kinds may have weights below 8 bits and which
//! stay float (a recurrent node where the target has no quantized one); whether
//! activation zero points must be 0; the opset the output needs. Lowering
//! reads the defaults, the CLI refuses values outside the lists, the search
//! leaves out layers whose kind cannot go below 8 bits, and [`crate::check`]
//! verifies a written model against the same table. Each fact names its
//! source.

use crate::options::{ActivationType, BiasMode, Int4Storage, WeightGranularity};
use wdq_ir::Op;
use wdq_quant::{ScaleMode, WeightRange};

/// A deployment target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Target {
    /// onnxruntime's CPU execution provider (today's output).
    #[default]
    OnnxRuntime,
    /// Qualcomm QNN (HTP backend, through onnxruntime's QNN EP).
    Qnn,
    /// Intel OpenVINO (CPU/NPU plugins).
    OpenVino,
    /// NVIDIA TensorRT (explicit quantization).
    TensorRt,
    /// AMD Vitis AI (DPU).
    Vitis,
}

/// The weighted op kinds a profile speaks of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerKind {
    Conv,
    ConvTranspose,
    Gemm,
    MatMul,
    /// LSTM, GRU and RNN (their `W` and `R`).
    Recurrent,
}

impl LayerKind {
    /// The kind of a weighted op, `None` for other ops.
    pub fn of(op: &Op) -> Option<LayerKind> {
        match op {
            Op::Conv(_) => Some(LayerKind::Conv),
            Op::ConvTranspose(_) => Some(LayerKind::ConvTranspose),
            Op::Gemm(_) => Some(LayerKind::Gemm),
            Op::MatMul => Some(LayerKind::MatMul),
            Op::LSTM(_) | Op::GRU(_) | Op::RNN(_) => Some(LayerKind::Recurrent),
            _ => None,
        }
    }
}

/// What a target takes. In every list the first value is the default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    pub target: Target,
    /// The name `--target` takes.
    pub name: &'static str,
    /// Op kinds whose weights may be below 8 bits (others are not
    /// candidates for the low bit width).
    pub low_bit_kinds: &'static [LayerKind],
    /// Why the other kinds cannot go below 8 bits.
    pub low_bit_reason: &'static str,
    /// Op kinds whose weights stay float (not quantized at any bit width).
    pub float_kinds: &'static [LayerKind],
    /// Why those kinds stay float.
    pub float_reason: &'static str,
    pub granularity: &'static [WeightGranularity],
    pub scale: &'static [ScaleMode],
    pub weight_range: &'static [WeightRange],
    pub activations: &'static [ActivationType],
    /// Activation zero points must be the symmetric one (0, signed).
    pub symmetric_activations: bool,
    pub bias: &'static [BiasMode],
    pub int4_storage: &'static [Int4Storage],
    /// The least default-domain opset the target reads the output at.
    pub min_opset: i64,
    /// (fact, source) pairs, for the README and `check`'s messages.
    pub sources: &'static [(&'static str, &'static str)],
}

const ALL_KINDS: &[LayerKind] = &[
    LayerKind::Conv,
    LayerKind::ConvTranspose,
    LayerKind::Gemm,
    LayerKind::MatMul,
    LayerKind::Recurrent,
];

const ONNXRUNTIME: Profile = Profile {
    target: Target::OnnxRuntime,
    name: "onnxruntime",
    low_bit_kinds: ALL_KINDS,
    low_bit_reason: "",
    float_kinds: &[],
    float_reason: "",
    granularity: &[WeightGranularity::PerChannel, WeightGranularity::PerTensor],
    scale: &[ScaleMode::Float, ScaleMode::PowerOfTwo],
    weight_range: &[WeightRange::Symmetric, WeightRange::Full],
    activations: &[ActivationType::U8, ActivationType::I8, ActivationType::None],
    symmetric_activations: false,
    bias: &[BiasMode::Int32, BiasMode::Float],
    int4_storage: &[Int4Storage::Packed, Int4Storage::Int8],
    min_opset: 10,
    sources: &[(
        "QuantizeLinear/DequantizeLinear of any ONNX integer type, INT4 from opset 21, per-axis from 13",
        "https://onnx.ai/onnx/operators/onnx__DequantizeLinear.html",
    )],
};

const QNN: Profile = Profile {
    target: Target::Qnn,
    name: "qnn",
    low_bit_kinds: &[LayerKind::Conv, LayerKind::Gemm, LayerKind::MatMul],
    low_bit_reason: "QNN HTP lists 4-bit (a8w4/a16w4) per-channel weights for Conv2d, FullyConnected and MatMul only, not TransposeConv2d or LSTM/GRU/RNN",
    float_kinds: &[],
    float_reason: "",
    granularity: &[WeightGranularity::PerChannel, WeightGranularity::PerTensor],
    scale: &[ScaleMode::Float, ScaleMode::PowerOfTwo],
    weight_range: &[WeightRange::Symmetric, WeightRange::Full],
    activations: &[ActivationType::U8],
    symmetric_activations: false,
    bias: &[BiasMode::Int32],
    int4_storage: &[Int4Storage::Packed],
    min_opset: 21,
    sources: &[
        (
            "HTP runs quantized QDQ models: uint8/uint16 asymmetric activations, symmetric int8/int4 per-channel weights, int32 bias",
            "https://onnxruntime.ai/docs/execution-providers/QNN-ExecutionProvider.html",
        ),
        (
            "4-bit per-channel weights for Conv2d, FullyConnected, MatMul",
            "https://docs.qualcomm.com/doc/80-63442-10/topic/htp_opdef_version_history.html",
        ),
    ],
};

const OPENVINO: Profile = Profile {
    target: Target::OpenVino,
    name: "openvino",
    low_bit_kinds: &[LayerKind::Conv, LayerKind::Gemm, LayerKind::MatMul],
    low_bit_reason: "OpenVINO's low-precision transformations and weight compression cover Convolution and MatMul/FullyConnected, not ConvolutionBackpropData or LSTM/GRU/RNN sequences",
    float_kinds: &[],
    float_reason: "",
    granularity: &[WeightGranularity::PerChannel, WeightGranularity::PerTensor],
    scale: &[ScaleMode::Float, ScaleMode::PowerOfTwo],
    weight_range: &[WeightRange::Symmetric, WeightRange::Full],
    activations: &[ActivationType::U8],
    symmetric_activations: false,
    bias: &[BiasMode::Int32, BiasMode::Float],
    int4_storage: &[Int4Storage::Packed, Int4Storage::Int8],
    min_opset: 13,
    sources: &[
        (
            "INT8 inference: unsigned 8-bit activations ([0, 255]), signed 8-bit weights, Convolution/FullyConnected need quantized data and weights",
            "https://docs.openvino.ai/2024/documentation/openvino-ir-format/intermediate-representation-int8-inference.html",
        ),
        (
            "FakeQuantize decomposition: u8 [0, 255] or i8 [-128, 127]/[-127, 127] intervals",
            "https://docs.openvino.ai/latest/openvino_docs_OV_UG_lpt.html",
        ),
    ],
};

const TENSORRT: Profile = Profile {
    target: Target::TensorRt,
    name: "tensorrt",
    low_bit_kinds: &[],
    low_bit_reason: "TensorRT quantizes activations and weights to INT8 only; INT4 is weight-only (no activation quantization), which this tool does not emit",
    float_kinds: &[LayerKind::Recurrent],
    float_reason: "TensorRT's explicit-quantization rules place Q/DQ on convolution and matrix-multiply inputs; a DequantizeLinear feeding an LSTM/GRU/RNN's W or R is no documented pattern, so they run in float",
    granularity: &[WeightGranularity::PerChannel, WeightGranularity::PerTensor],
    scale: &[ScaleMode::Float, ScaleMode::PowerOfTwo],
    weight_range: &[WeightRange::Symmetric],
    activations: &[ActivationType::I8],
    symmetric_activations: true,
    bias: &[BiasMode::Float],
    int4_storage: &[Int4Storage::Int8],
    min_opset: 13,
    sources: &[
        (
            "symmetric quantization: signed INT8 activations and weights, zero point 0; INT4 weight-only",
            "https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/work-quantized-types.html",
        ),
        (
            "Q/DQ (explicit quantization) of ONNX models; DequantizeLinear inputs INT8/FP8/INT4/FP4 (no int32 bias), weights in [-127, 127]",
            "https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/quantized-types-explicit-quantization.html",
        ),
    ],
};

const VITIS: Profile = Profile {
    target: Target::Vitis,
    name: "vitis",
    low_bit_kinds: &[],
    low_bit_reason: "the Vitis AI DPU runs 8-bit power-of-two quantization only",
    float_kinds: &[LayerKind::Recurrent],
    float_reason: "the DPU has no LSTM/GRU/RNN operator: such nodes run on the CPU, in float",
    granularity: &[WeightGranularity::PerTensor],
    scale: &[ScaleMode::PowerOfTwo],
    weight_range: &[WeightRange::Symmetric, WeightRange::Full],
    activations: &[ActivationType::I8],
    symmetric_activations: true,
    bias: &[BiasMode::Float],
    int4_storage: &[Int4Storage::Int8],
    min_opset: 13,
    sources: &[
        (
            "DPU quantize strategy pof2s: power-of-two scales, 8-bit",
            "https://docs.amd.com/r/en-US/ug1414-vitis-ai/TensorFlow-2.x",
        ),
        (
            "ONNX QDQ for the DPU (enable_dpu): symmetric activations and weights, power-of-two calibration",
            "https://huggingface.co/docs/optimum/v1.17.1/amd/ryzenai/package_reference/configuration",
        ),
    ],
};

/// Every profile, in the order the README lists them.
pub const PROFILES: [Profile; 5] = [ONNXRUNTIME, QNN, OPENVINO, TENSORRT, VITIS];

impl Target {
    /// The target's profile.
    pub fn profile(self) -> &'static Profile {
        match self {
            Target::OnnxRuntime => &PROFILES[0],
            Target::Qnn => &PROFILES[1],
            Target::OpenVino => &PROFILES[2],
            Target::TensorRt => &PROFILES[3],
            Target::Vitis => &PROFILES[4],
        }
    }

    /// The target called `name` (`onnxruntime`, `qnn`, ...).
    pub fn parse(name: &str) -> Option<Target> {
        PROFILES.iter().find(|p| p.name == name).map(|p| p.target)
    }
}

impl Profile {
    /// Why a layer of `op` stays float on this target (its kind takes no
    /// quantized weights), or `None` when it can be quantized.
    pub fn keeps_float(&self, op: &Op) -> Option<String> {
        let kind = LayerKind::of(op)?;
        self.float_kinds.contains(&kind).then(|| {
            format!(
                "{} takes no quantized {} weights: {}",
                self.name,
                op.op_type(),
                self.float_reason
            )
        })
    }

    /// Why a layer of `op` cannot have weights of `bits` bits on this
    /// target, or `None` when it can.
    pub fn refuses(&self, op: &Op, bits: u8) -> Option<String> {
        if let Some(why) = self.keeps_float(op) {
            return Some(why);
        }
        let kind = LayerKind::of(op)?;
        if bits >= 8 || self.low_bit_kinds.contains(&kind) {
            return None;
        }
        Some(format!(
            "{} takes no {}-bit {} weights: {}",
            self.name,
            bits,
            op.op_type(),
            self.low_bit_reason
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_its_profile_and_sources() {
        for p in &PROFILES {
            assert_eq!(p.target.profile(), p);
            assert_eq!(Target::parse(p.name), Some(p.target));
            assert!(!p.sources.is_empty(), "{}", p.name);
            for list_len in [
                p.granularity.len(),
                p.scale.len(),
                p.weight_range.len(),
                p.activations.len(),
                p.bias.len(),
                p.int4_storage.len(),
            ] {
                assert!(list_len > 0, "{}: an empty list has no default", p.name);
            }
            let all_low = p.low_bit_kinds.len() == ALL_KINDS.len();
            assert_eq!(all_low, p.low_bit_reason.is_empty(), "{}", p.name);
            assert_eq!(
                p.float_kinds.is_empty(),
                p.float_reason.is_empty(),
                "{}",
                p.name
            );
            assert!(p.float_kinds.iter().all(|k| !p.low_bit_kinds.contains(k)));
        }
        assert_eq!(Target::parse("tflite"), None);
    }

    #[test]
    fn refusals_name_the_op_and_the_reason() {
        let conv = Op::Conv(Default::default());
        assert_eq!(Target::OnnxRuntime.profile().refuses(&conv, 4), None);
        assert_eq!(Target::TensorRt.profile().refuses(&conv, 8), None);
        let why = Target::TensorRt.profile().refuses(&conv, 4).unwrap();
        assert!(
            why.starts_with("tensorrt takes no 4-bit Conv weights: "),
            "{why}"
        );
        let ct = Op::ConvTranspose(Default::default());
        assert!(Target::Qnn.profile().refuses(&ct, 4).is_some());
        assert_eq!(Target::Qnn.profile().refuses(&conv, 4), None);
        let lstm = Op::LSTM(Default::default());
        assert_eq!(Target::OnnxRuntime.profile().refuses(&lstm, 4), None);
        assert_eq!(Target::Qnn.profile().refuses(&lstm, 8), None);
        assert!(Target::Qnn.profile().refuses(&lstm, 4).is_some());
        let why = Target::Vitis.profile().refuses(&lstm, 8).unwrap();
        assert!(
            why.starts_with("vitis takes no quantized LSTM weights: "),
            "{why}"
        );
        assert!(Target::TensorRt.profile().keeps_float(&lstm).is_some());
        assert_eq!(Target::TensorRt.profile().keeps_float(&conv), None);
    }
}

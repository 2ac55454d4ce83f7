//! Quantization math shared by planning and lowering.
//!
//! - [`QuantSpec`]: the integer grid (bits, signedness, narrow range).
//! - [`QuantParams`]: scales and zero points, per tensor or per channel.
//! - [`scale`]: choosing them: symmetric weight scales and asymmetric
//!   activation scales, as free floats or as powers of two (fixed point Qm.n).
//! - [`linear`]: ONNX `QuantizeLinear`/`DequantizeLinear` arithmetic,
//!   bit-identical to onnxruntime, and fake quantization for the executor.
//! - [`bias`]: int32 bias quantization with scale `s_x * s_w`.
//! - [`pack`]: int4/uint4 nibble packing in ONNX order.
//! - [`calibrate`]: activation ranges from observed batches.
//!
//! Nothing here panics on input: every check returns a [`QuantError`].
//!
//! ```
//! use ndarray::array;
//! use wdq_quant::{fake_quantize, quantize, symmetric_params, Granularity, QuantSpec, ScaleMode};
//!
//! // A [2, 3] weight, int4 per output channel (axis 0), fixed point.
//! let w = array![[0.9f32, -0.3, 0.1], [0.05, 0.02, -0.04]];
//! let params =
//!     symmetric_params(&w.view(), QuantSpec::INT4, Granularity::PerChannel { axis: 0 }, ScaleMode::PowerOfTwo)?;
//! assert_eq!(params.fraction_lengths(), Some(vec![2, 7])); // Q1.2, then n = 7
//! assert_eq!(quantize(&w.view(), &params)?, array![[4, -1, 0], [6, 3, -5]]);
//! let w_q = fake_quantize(&w.view(), &params)?; // what the executor runs
//! assert_eq!(w_q[[0, 0]], 1.0);
//! # Ok::<(), wdq_quant::QuantError>(())
//! ```

pub mod bias;
pub mod calibrate;
mod error;
pub mod linear;
pub mod pack;
mod params;
pub mod scale;
mod spec;

pub use bias::{dequantize_bias, fake_quantize_bias, quantize_bias, QuantizedBias};
pub use calibrate::{CalibrationMethod, Calibrator};
pub use error::{QuantError, Result};
pub use linear::{
    dequantize, fake_quantize, fake_quantize_in_place, fake_quantize_slice, quantize,
};
pub use pack::{pack_int4, pack_uint4, unpack_int4, unpack_uint4};
pub use params::{ChannelLayout, Granularity, QuantParams};
pub use scale::{
    asymmetric_params, fraction_length, symmetric_params, symmetric_range_params, weight_params,
    weight_scale, ScaleMode, WeightRange,
};
pub use spec::{QuantSpec, MAX_BITS, MIN_BITS};

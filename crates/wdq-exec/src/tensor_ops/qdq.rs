//! QuantizeLinear (f32 to int8/uint8/int4/uint4, round half to even,
//! saturating) and DequantizeLinear (int8/uint8/int4/uint4/int32 to f32),
//! per tensor or per axis. Blocked quantization is refused.

use crate::kit::{float_values, int_values, norm_axis, optional, required};
use crate::{KernelError, TensorValue};
use ndarray::ArrayD;
use wdq_ir::op::QdqAttrs;
use wdq_ir::DType;
use wdq_quant::linear::{dequantize_value, quantize_value};
use wdq_quant::QuantSpec;

/// Per-element scale and zero point lookup: per tensor (`axis == None`) or
/// along `axis`.
struct QuantParams {
    scales: Vec<f32>,
    zero_points: Vec<i64>,
    /// Elements after one step along the axis, and the axis length.
    inner: usize,
    len: usize,
}

impl QuantParams {
    fn at(&self, flat: usize) -> (f32, i64) {
        let c = if self.scales.len() == 1 {
            0
        } else {
            (flat / self.inner) % self.len
        };
        (self.scales[c], self.zero_points[c])
    }
}

fn params(
    attrs: &QdqAttrs,
    shape: &[usize],
    scale: &TensorValue,
    zero_point: Option<&TensorValue>,
) -> Result<QuantParams, KernelError> {
    if attrs.block_size.unwrap_or(0) != 0 || scale.shape().len() > 1 {
        return Err(KernelError::Unsupported(
            "blocked quantization (block_size)".into(),
        ));
    }
    let scales = float_values(scale, 1)?;
    let zero_points = match zero_point {
        Some(z) => {
            if z.shape() != scale.shape() && z.shape().iter().product::<usize>() != scales.len() {
                return Err(KernelError::Shape(format!(
                    "zero point shape {:?} differs from scale shape {:?}",
                    z.shape(),
                    scale.shape()
                )));
            }
            int_values(z, 2)?
        }
        None => vec![0; scales.len()],
    };
    if scales.len() == 1 && scale.shape().len() <= 1 {
        return Ok(QuantParams {
            scales,
            zero_points,
            inner: 1,
            len: 1,
        });
    }
    let axis = norm_axis(attrs.axis.unwrap_or(1), shape.len(), "axis")?;
    if scales.len() != shape[axis] {
        return Err(KernelError::Shape(format!(
            "{} scales for axis {axis} of shape {shape:?}",
            scales.len()
        )));
    }
    Ok(QuantParams {
        scales,
        zero_points,
        inner: shape[axis + 1..].iter().product(),
        len: shape[axis],
    })
}

/// The element type QuantizeLinear produces: the zero point's, else
/// `output_dtype` (opset 21), else uint8.
pub(crate) fn quantized_dtype(
    attrs: &QdqAttrs,
    zero_point: Option<DType>,
) -> Result<DType, KernelError> {
    let dtype = match (zero_point, attrs.output_dtype) {
        (Some(d), _) => d,
        (None, Some(code)) if code != 0 => i32::try_from(code)
            .ok()
            .and_then(DType::from_onnx)
            .ok_or_else(|| KernelError::Attribute {
                name: "output_dtype",
                why: format!("unknown type {code}"),
            })?,
        _ => DType::U8,
    };
    match dtype {
        DType::I8 | DType::U8 | DType::I4 | DType::U4 => Ok(dtype),
        other => Err(KernelError::Unsupported(format!(
            "QuantizeLinear to {other}"
        ))),
    }
}

/// QuantizeLinear.
pub(crate) fn quantize(
    attrs: &QdqAttrs,
    inputs: &[Option<&TensorValue>],
) -> Result<TensorValue, KernelError> {
    let x = required(inputs, 0)?;
    let TensorValue::F32(xa) = x else {
        return Err(KernelError::InputType {
            index: 0,
            got: x.dtype(),
            expected: "f32",
        });
    };
    let zp = optional(inputs, 2);
    let dtype = quantized_dtype(attrs, zp.map(TensorValue::dtype))?;
    let p = params(attrs, x.shape(), required(inputs, 1)?, zp)?;
    let spec = match dtype {
        DType::I8 => QuantSpec::INT8,
        DType::I4 => QuantSpec::INT4,
        DType::U4 => QuantSpec::UINT4,
        _ => QuantSpec::UINT8,
    };
    // wdq-quant's arithmetic, the one lowering uses (NaN gives qmin, as
    // onnxruntime does).
    let q: Vec<i32> = xa
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (s, z) = p.at(i);
            quantize_value(v, s, z as i32, spec)
        })
        .collect();
    let shape = ndarray::IxDyn(x.shape());
    let build = |q: Vec<i32>| ArrayD::from_shape_vec(shape.clone(), q);
    let bad = |e: ndarray::ShapeError| KernelError::Shape(e.to_string());
    Ok(match dtype {
        DType::I8 => TensorValue::I8(build(q).map_err(bad)?.mapv(|v| v as i8)),
        DType::I4 => TensorValue::I4(build(q).map_err(bad)?.mapv(|v| v as i8)),
        DType::U4 => TensorValue::U4(build(q).map_err(bad)?.mapv(|v| v as u8)),
        _ => TensorValue::U8(build(q).map_err(bad)?.mapv(|v| v as u8)),
    })
}

/// DequantizeLinear.
pub(crate) fn dequantize(
    attrs: &QdqAttrs,
    inputs: &[Option<&TensorValue>],
) -> Result<TensorValue, KernelError> {
    let x = required(inputs, 0)?;
    let zp = optional(inputs, 2);
    if let Some(z) = zp {
        if z.dtype() != x.dtype() {
            return Err(KernelError::InputType {
                index: 2,
                got: z.dtype(),
                expected: "the element type of input 0",
            });
        }
    }
    let values = match x {
        TensorValue::I8(_)
        | TensorValue::U8(_)
        | TensorValue::I4(_)
        | TensorValue::U4(_)
        | TensorValue::I32(_) => int_values(x, 0)?,
        other => {
            return Err(KernelError::InputType {
                index: 0,
                got: other.dtype(),
                expected: "int8, uint8, int4, uint4 or int32",
            })
        }
    };
    let p = params(attrs, x.shape(), required(inputs, 1)?, zp)?;
    let out: Vec<f32> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (s, z) = p.at(i);
            dequantize_value(v as i32, s, z as i32)
        })
        .collect();
    Ok(TensorValue::F32(crate::kit::array(x.shape(), out)?))
}

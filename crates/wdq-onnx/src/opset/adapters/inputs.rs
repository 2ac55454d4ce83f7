//! Adapters for attributes that became inputs: Clip's bounds and Pad's
//! pads and value (11), Reshape's shape (5), Slice's starts/ends/axes (10),
//! Split's split and the reductions' axes (13/18), Squeeze/Unsqueeze axes
//! (13), Dropout's ratio (12), Upsample's scales (9), TopK's k (10).

use super::Outcome;
use crate::opset::edit::{scalar_f32, NodeAttrs, Rewriter};
use crate::opset::infer::Facts;
use wdq_ir::{AttrValue, DType, NodeId, Tensor, TensorData};

pub(crate) fn dropout_ratio_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.remove("ratio") {
        None => Ok(()),
        Some(AttrValue::Float(r)) => {
            let base = format!("{}_ratio", rw.graph.node_label(node));
            let value = rw.constant(&base, scalar_f32(r));
            rw.set_input(node, 1, Some(value));
            Ok(())
        }
        Some(_) => Err("attribute `ratio` is not a float".into()),
    }
}

/// A scalar of the element type of `node`'s input 0, for the inputs that
/// replace float attributes (Clip's bounds, Pad's value).
fn typed_scalar(
    rw: &Rewriter,
    facts: &Facts,
    node: NodeId,
    x: f32,
    what: &str,
) -> Result<Tensor, String> {
    let dtype = rw.graph.node(node).input(0).and_then(|v| facts.dtype(v));
    scalar_of(dtype, x, what)
}

/// A scalar `x` of element type `dtype` (float types only).
pub(crate) fn scalar_of(dtype: Option<DType>, x: f32, what: &str) -> Result<Tensor, String> {
    match dtype {
        Some(DType::F32) => Ok(scalar_f32(x)),
        Some(DType::F64) => Tensor::new(DType::F64, vec![], TensorData::F64(vec![f64::from(x)]))
            .map_err(|e| e.to_string()),
        Some(DType::F16) => Tensor::new(
            DType::F16,
            vec![],
            TensorData::Bytes(f16_bits(x).to_le_bytes().to_vec()),
        )
        .map_err(|e| e.to_string()),
        Some(other) => Err(format!(
            "{what} as an input of element type {other} is not supported"
        )),
        None => Err(format!(
            "{what} becomes an input of the data's element type, which is not known here"
        )),
    }
}

/// The IEEE half-precision bits nearest to `x` (ties to even; overflow to
/// infinity, as a cast would give).
fn f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x007f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x0200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x0080_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rest = m & ((1 << shift) - 1);
        let midpoint = 1 << (shift - 1);
        let round = u32::from(rest > midpoint || (rest == midpoint && half & 1 == 1));
        return sign | (half + round) as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    let round = u32::from(rest > 0x1000 || (rest == 0x1000 && half & 1 == 1));
    sign | (half + round) as u16
}

pub(crate) fn clip_inputs(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    for (attr, slot) in [("min", 1), ("max", 2)] {
        match a.get(attr) {
            None => {}
            Some(AttrValue::Float(x)) => {
                let t = typed_scalar(rw, facts, node, x, &format!("Clip's `{attr}`"))?;
                let base = format!("{}_{attr}", rw.graph.node_label(node));
                let value = rw.constant(&base, t);
                rw.set_input(node, slot, Some(value));
            }
            Some(_) => return Err(format!("attribute `{attr}` is not a float")),
        }
    }
    a.remove("min");
    a.remove("max");
    Ok(())
}

pub(crate) fn pad_inputs(
    rw: &mut Rewriter,
    facts: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if !a.has("pads") {
        return Err("Pad has no `pads` attribute".into());
    }
    match a.get("value") {
        None => {}
        Some(AttrValue::Float(0.0)) => {}
        Some(AttrValue::Float(v)) => {
            let t = typed_scalar(rw, facts, node, v, "Pad's `value`")?;
            let base = format!("{}_value", rw.graph.node_label(node));
            let value = rw.constant(&base, t);
            rw.set_input(node, 2, Some(value));
        }
        Some(_) => return Err("attribute `value` is not a float".into()),
    }
    a.remove("value");
    rw.ints_to_input(node, a, "pads", 1)
}

pub(crate) fn reshape_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    a.remove("consumed_inputs");
    if !a.has("shape") {
        return Err("Reshape has neither a `shape` attribute nor an opset-5 form".into());
    }
    rw.ints_to_input(node, a, "shape", 1)
}

pub(crate) fn slice_inputs(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    if !a.has("starts") || !a.has("ends") {
        return Err("Slice lacks `starts` or `ends`".into());
    }
    rw.ints_to_input(node, a, "starts", 1)?;
    rw.ints_to_input(node, a, "ends", 2)?;
    rw.ints_to_input(node, a, "axes", 3)
}

pub(crate) fn split_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    rw.ints_to_input(node, a, "split", 1)
}

pub(crate) fn axes_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    rw.ints_to_input(node, a, "axes", 1)
}

pub(crate) fn upsample_scales_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.remove("scales") {
        Some(AttrValue::Floats(s)) => {
            let base = format!("{}_scales", rw.graph.node_label(node));
            let value = rw.constant(&base, Tensor::from_f32(vec![s.len()], s));
            rw.set_input(node, 1, Some(value));
            Ok(())
        }
        None if rw.graph.node(node).input(1).is_some() => Ok(()),
        _ => Err("Upsample has no float `scales`".into()),
    }
}

pub(crate) fn topk_k_input(
    rw: &mut Rewriter,
    _: &Facts,
    node: NodeId,
    a: &mut NodeAttrs,
    _: i64,
) -> Outcome {
    match a.remove("k") {
        Some(AttrValue::Int(k)) => {
            let base = format!("{}_k", rw.graph.node_label(node));
            let value = rw.constant(&base, Tensor::from_i64(vec![1], vec![k]));
            rw.set_input(node, 1, Some(value));
            Ok(())
        }
        _ => Err("TopK-1 has no int `k`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::f16_bits;

    #[test]
    #[allow(clippy::excessive_precision)] // numpy's printed inputs, kept verbatim
    fn half_precision_bits() {
        assert_eq!(f16_bits(1.0), 0x3c00);
        assert_eq!(f16_bits(-2.0), 0xc000);
        assert_eq!(f16_bits(0.0), 0x0000);
        assert_eq!(f16_bits(65504.0), 0x7bff);
        assert_eq!(f16_bits(1e6), 0x7c00);
        assert_eq!(f16_bits(f32::NEG_INFINITY), 0xfc00);
        assert_eq!(f16_bits(6.0e-8), 0x0001);
        assert_eq!(f16_bits(0.1), 0x2e66);
        assert_eq!(f16_bits(f32::MAX), 0x7c00);
        // Against numpy's float32 -> float16 cast: ties, subnormals, overflow.
        assert_eq!(f16_bits(1.0009765625), 0x3c01);
        assert_eq!(f16_bits(1.00048828125), 0x3c00);
        assert_eq!(f16_bits(1.000732421875), 0x3c01);
        assert_eq!(f16_bits(3.0517578125e-05), 0x200);
        assert_eq!(f16_bits(6.103515625e-05), 0x400);
        assert_eq!(f16_bits(2.9802322387695312e-08), 0x0);
        assert_eq!(f16_bits(8.940696716308594e-08), 0x2);
        assert_eq!(f16_bits(65519.0), 0x7bff);
        assert_eq!(f16_bits(65520.0), 0x7c00);
        assert_eq!(f16_bits(-0.33333298563957214), 0xb555);
        assert_eq!(f16_bits(1234.5677490234375), 0x64d3);
        assert_eq!(f16_bits(9.999999717180685e-10), 0x0);
    }
}

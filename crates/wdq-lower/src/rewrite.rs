//! The three rewrites of a lowering, all arithmetic delegated to
//! `wdq_quant`:
//!
//! - an activation pair: `QuantizeLinear -> DequantizeLinear` after a value,
//!   asymmetric parameters from its calibrated range (symmetric with
//!   `options.symmetric_activations`; or shared with the
//!   pair before a MaxPool/Flatten-like op), every reader moved to the
//!   pair's output;
//! - a weight: signed codes at the layer's bits (zero point 0, on the
//!   symmetric or the full grid of `options.weight_range`) in
//!   an int4 or int8 initializer, behind a `DequantizeLinear` (with `axis`
//!   when per channel) that the layer now reads;
//! - a bias: int32 codes with scale `s_x * s_w` and zero point 0 behind a
//!   `DequantizeLinear` (axis 0 when the weight is per channel).

use crate::emit::{int_tensor, scale_tensor, Emitter, Place};
use crate::error::LowerError;
use crate::options::{Int4Storage, LowerOptions};
use crate::resolve::FloatConst;
use crate::site::{BiasSite, LayerSite};
use ndarray::{ArrayViewD, IxDyn};
use wdq_ir::op::QdqAttrs;
use wdq_ir::{DType, Op, TensorType, ValueDef, ValueId};
use wdq_quant::{
    asymmetric_params, quantize, quantize_bias, symmetric_range_params, weight_params, Granularity,
    QuantError, QuantParams, QuantSpec,
};

/// The parameters of an emitted activation pair.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PairParams {
    pub scale: ValueId,
    pub zero_point: ValueId,
    /// The scale's value, for int32 biases.
    pub scale_value: f32,
}

/// How a pair gets its parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PairSource {
    /// From a calibrated range.
    Range((f32, f32)),
    /// The same tensors as another pair: for the output of an op that only
    /// moves or selects values (MaxPool, Flatten, ...), whose codes are
    /// then requantized exactly.
    Shared(PairParams),
}

/// Inserts a pair after `value`; returns its parameters.
///
/// # Errors
/// [`LowerError::Quant`] for a range that gives no valid parameters.
pub(crate) fn activation_pair(
    em: &mut Emitter<'_>,
    value: ValueId,
    source: PairSource,
    spec: QuantSpec,
    options: &LowerOptions,
) -> Result<PairParams, LowerError> {
    let base = em.graph.value(value).name.clone();
    let dtype = spec.storage_dtype();
    let pair = match source {
        PairSource::Shared(pair) => pair,
        PairSource::Range(range) => {
            let params = if options.symmetric_activations {
                symmetric_range_params(range, spec, options.scale)
            } else {
                asymmetric_params(&[range], None, spec, options.scale)
            }
            .map_err(|source| LowerError::Quant {
                node: "(activation)".to_string(),
                tensor: base.clone(),
                source,
            })?;
            PairParams {
                scale: em.initializer(
                    &format!("{base}_scale"),
                    scale_tensor(&base, &params.scales, false)?,
                ),
                zero_point: em.initializer(
                    &format!("{base}_zero_point"),
                    int_tensor(&base, dtype, vec![], &params.zero_points)?,
                ),
                scale_value: params.scales[0],
            }
        }
    };
    let (scale, zero_point) = (pair.scale, pair.zero_point);
    let place = match em.graph.value(value).def {
        ValueDef::Node { node, .. } => Place::After(node),
        _ => Place::Front,
    };
    let ty = em.graph.value(value).ty.clone();
    let q_ty = ty.as_ref().map(|t| TensorType {
        dtype,
        shape: t.shape.clone(),
    });
    let (q_node, q_out) = em.node(
        &format!("{base}_QuantizeLinear"),
        Op::QuantizeLinear(QdqAttrs::default()),
        vec![Some(value), Some(scale), Some(zero_point)],
        &format!("{base}_quantized"),
        q_ty,
        place,
    );
    let (_, dq_out) = em.node(
        &format!("{base}_DequantizeLinear"),
        Op::DequantizeLinear(QdqAttrs::default()),
        vec![Some(q_out), Some(scale), Some(zero_point)],
        &format!("{base}_dequantized"),
        ty,
        place,
    );
    em.reroute(value, dq_out, q_node);
    Ok(pair)
}

/// Quantizes the weight of `site` and its companions (an LSTM's `R`) at
/// `bits` and makes the layer read their `DequantizeLinear`s; returns the
/// weight's parameters.
///
/// # Errors
/// [`LowerError::Quant`] when no valid scale exists (e.g. a non-finite weight).
pub(crate) fn weight(
    em: &mut Emitter<'_>,
    site: &LayerSite,
    bits: u8,
    options: &LowerOptions,
) -> Result<QuantParams, LowerError> {
    let params = operand(em, site, site.weight_slot, &site.weight, bits, options)?;
    for (slot, companion) in &site.companions {
        operand(em, site, *slot, companion, bits, options)?;
    }
    Ok(params)
}

/// Quantizes the weight `w` read at input `slot` of the layer of `site`.
fn operand(
    em: &mut Emitter<'_>,
    site: &LayerSite,
    slot: usize,
    w: &FloatConst,
    bits: u8,
    options: &LowerOptions,
) -> Result<QuantParams, LowerError> {
    let quant_error = |source| LowerError::Quant {
        node: site.label.clone(),
        tensor: w.base.clone(),
        source,
    };
    let spec = QuantSpec::signed(bits).map_err(quant_error)?;
    let view = ArrayViewD::from_shape(IxDyn(&w.shape), &w.values).map_err(|_| {
        quant_error(QuantError::LengthMismatch {
            what: "weight values versus shape",
            expected: w.shape.iter().product(),
            found: w.values.len(),
        })
    })?;
    let granularity = match site.axis {
        Some(axis) => Granularity::PerChannel { axis },
        None => Granularity::PerTensor,
    };
    let params = weight_params(
        &view,
        spec,
        granularity,
        options.scale,
        options.weight_range,
    )
    .map_err(quant_error)?;
    let codes = quantize(&view, &params).map_err(quant_error)?;
    let dtype = storage_dtype(bits, options.int4_storage);
    let codes: Vec<i32> = codes.iter().copied().collect();
    let per_channel = site.axis.is_some();
    let channel_shape = if per_channel {
        vec![params.scales.len()]
    } else {
        vec![]
    };
    let stored = em.initializer(
        &format!("{}_quantized", w.base),
        int_tensor(&w.base, dtype, w.shape.clone(), &codes)?,
    );
    let scale = em.initializer(
        &format!("{}_scale", w.base),
        scale_tensor(&w.base, &params.scales, per_channel)?,
    );
    let zero_point = em.initializer(
        &format!("{}_zero_point", w.base),
        int_tensor(&w.base, dtype, channel_shape, &params.zero_points)?,
    );
    let attrs = QdqAttrs {
        axis: site.axis.map(|a| a as i64),
        ..QdqAttrs::default()
    };
    let (_, out) = em.node(
        &format!("{}_DequantizeLinear", w.base),
        Op::DequantizeLinear(attrs),
        vec![Some(stored), Some(scale), Some(zero_point)],
        &format!("{}_dequantized", w.base),
        Some(TensorType::known(DType::F32, &w.shape)),
        Place::Before(site.node),
    );
    em.graph.node_mut(site.node).inputs[slot] = Some(out);
    Ok(params)
}

/// The element type that holds `bits`-bit weight codes.
pub(crate) fn storage_dtype(bits: u8, storage: Int4Storage) -> DType {
    match (bits <= 4, storage) {
        (true, Int4Storage::Packed) => DType::I4,
        _ => DType::I8,
    }
}

/// Replaces the bias of `site` by int32 codes with scale
/// `input_scale * weight scale` behind a `DequantizeLinear`.
///
/// # Errors
/// [`LowerError::Quant`] for a non-finite bias or a scale product that is
/// not a normal f32.
pub(crate) fn int32_bias(
    em: &mut Emitter<'_>,
    site: &LayerSite,
    bias: &BiasSite,
    input_scale: f32,
    weight: &QuantParams,
) -> Result<(), LowerError> {
    let b = &bias.value;
    let quantized = quantize_bias(&b.values, input_scale, &weight.scales).map_err(|source| {
        LowerError::Quant {
            node: site.label.clone(),
            tensor: b.base.clone(),
            source,
        }
    })?;
    let per_channel = site.axis.is_some();
    let channel_shape = if per_channel {
        vec![quantized.scales.len()]
    } else {
        vec![]
    };
    let stored = em.initializer(
        &format!("{}_quantized", b.base),
        int_tensor(&b.base, DType::I32, b.shape.clone(), &quantized.values)?,
    );
    let scale = em.initializer(
        &format!("{}_scale", b.base),
        scale_tensor(&b.base, &quantized.scales, per_channel)?,
    );
    let zeros = vec![0; quantized.scales.len()];
    let zero_point = em.initializer(
        &format!("{}_zero_point", b.base),
        int_tensor(&b.base, DType::I32, channel_shape, &zeros)?,
    );
    let attrs = QdqAttrs {
        axis: per_channel.then_some(0),
        ..QdqAttrs::default()
    };
    let (_, out) = em.node(
        &format!("{}_DequantizeLinear", b.base),
        Op::DequantizeLinear(attrs),
        vec![Some(stored), Some(scale), Some(zero_point)],
        &format!("{}_dequantized", b.base),
        Some(TensorType::known(DType::F32, &b.shape)),
        Place::Before(site.node),
    );
    em.graph.node_mut(site.node).inputs[bias.slot] = Some(out);
    Ok(())
}

/// Replaces a bias that an already quantized model dequantizes (int32
/// codes scaled for the old weight scales) by its float value; returns
/// whether it did. A plain float bias is left alone.
///
/// # Errors
/// [`LowerError::Tensor`] if the float tensor cannot be built.
pub(crate) fn float_bias(
    em: &mut Emitter<'_>,
    site: &LayerSite,
    bias: &BiasSite,
    original: &wdq_ir::Graph,
) -> Result<bool, LowerError> {
    let b = &bias.value;
    let dequantized = b
        .chain
        .iter()
        .any(|n| matches!(original.node(*n).op, Op::DequantizeLinear(_)));
    if !dequantized {
        return Ok(false);
    }
    let tensor = wdq_ir::Tensor::new(
        DType::F32,
        b.shape.clone(),
        wdq_ir::TensorData::F32(b.values.clone()),
    )
    .map_err(|e| LowerError::Tensor {
        tensor: b.base.clone(),
        why: e.to_string(),
    })?;
    let value = em.initializer(&b.base, tensor);
    em.graph.node_mut(site.node).inputs[bias.slot] = Some(value);
    Ok(true)
}

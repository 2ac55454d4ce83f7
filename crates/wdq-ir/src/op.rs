//! The closed op set: every ONNX op the project understands, with typed
//! attributes, plus [`Op::Opaque`] that carries anything else through a round
//! trip untouched (unknown ops, custom domains, ops with subgraphs).

use crate::attr::{op_attrs, UnknownAttr};
use crate::grad_op::GradOp;
use crate::op_meta::{Family, GradRule::*, OpMeta, ShapeRule::*, VARIADIC};
use crate::{Attr, Tensor};
use std::sync::Arc;

op_attrs!(
    /// Conv and ConvTranspose.
    ConvAttrs {
        auto_pad: String = "auto_pad",
        dilations: Vec<i64> = "dilations",
        group: i64 = "group",
        kernel_shape: Vec<i64> = "kernel_shape",
        pads: Vec<i64> = "pads",
        strides: Vec<i64> = "strides",
        output_padding: Vec<i64> = "output_padding",
        output_shape: Vec<i64> = "output_shape",
    }
);
op_attrs!(
    /// MaxPool and AveragePool.
    PoolAttrs {
        auto_pad: String = "auto_pad",
        ceil_mode: i64 = "ceil_mode",
        count_include_pad: i64 = "count_include_pad",
        dilations: Vec<i64> = "dilations",
        kernel_shape: Vec<i64> = "kernel_shape",
        pads: Vec<i64> = "pads",
        storage_order: i64 = "storage_order",
        strides: Vec<i64> = "strides",
    }
);
op_attrs!(GemmAttrs {
    alpha: f32 = "alpha",
    beta: f32 = "beta",
    trans_a: i64 = "transA",
    trans_b: i64 = "transB"
});
op_attrs!(
    /// LeakyRelu, Elu, Celu (alpha), HardSigmoid (alpha, beta), Gelu (approximate).
    ActivationAttrs { alpha: f32 = "alpha", beta: f32 = "beta", approximate: String = "approximate" }
);
op_attrs!(
    /// Selu.
    SeluAttrs { alpha: f32 = "alpha", gamma: f32 = "gamma" }
);
op_attrs!(
    /// Shrink.
    ShrinkAttrs { bias: f32 = "bias", lambd: f32 = "lambd" }
);
op_attrs!(
    /// Mod: `fmod = 1` is C's fmod (sign of the dividend), 0 Python's `%`.
    ModAttrs { fmod: i64 = "fmod" }
);
op_attrs!(
    /// LRN (across channels).
    LrnAttrs { alpha: f32 = "alpha", beta: f32 = "beta", bias: f32 = "bias", size: i64 = "size" }
);
op_attrs!(
    /// InstanceNormalization.
    InstanceNormAttrs { epsilon: f32 = "epsilon" }
);
op_attrs!(
    /// GroupNormalization (opset 18: scale and bias per group; 21: per channel).
    GroupNormAttrs { epsilon: f32 = "epsilon", num_groups: i64 = "num_groups", stash_type: i64 = "stash_type" }
);
op_attrs!(
    /// Clip; min/max are attributes before opset 11, inputs after.
    ClipAttrs { min: f32 = "min", max: f32 = "max" }
);
op_attrs!(
    /// Softmax, LogSoftmax, Flatten, Concat, Gather: one axis.
    AxisAttrs { axis: i64 = "axis" }
);
op_attrs!(
    BatchNormAttrs {
        epsilon: f32 = "epsilon",
        momentum: f32 = "momentum",
        training_mode: i64 = "training_mode",
        spatial: i64 = "spatial",
        is_test: i64 = "is_test",
        consumed_inputs: Vec<i64> = "consumed_inputs",
    }
);
op_attrs!(LayerNormAttrs {
    axis: i64 = "axis",
    epsilon: f32 = "epsilon",
    stash_type: i64 = "stash_type"
});
op_attrs!(ReshapeAttrs { allowzero: i64 = "allowzero", shape: Vec<i64> = "shape" });
op_attrs!(TransposeAttrs { perm: Vec<i64> = "perm" });
op_attrs!(SplitAttrs { axis: i64 = "axis", split: Vec<i64> = "split", num_outputs: i64 = "num_outputs" });
op_attrs!(
    /// Slice; starts/ends/axes are attributes before opset 10.
    SliceAttrs { starts: Vec<i64> = "starts", ends: Vec<i64> = "ends", axes: Vec<i64> = "axes" }
);
op_attrs!(
    /// Squeeze and Unsqueeze; axes is an attribute before opset 13.
    AxesAttrs { axes: Vec<i64> = "axes" }
);
op_attrs!(
    /// Pad; pads and value are attributes before opset 11.
    PadAttrs { mode: String = "mode", pads: Vec<i64> = "pads", value: f32 = "value" }
);
op_attrs!(DropoutAttrs {
    ratio: f32 = "ratio",
    seed: i64 = "seed",
    is_test: i64 = "is_test"
});
op_attrs!(
    /// Resize (and its opset-10 form; Upsample is opaque).
    ResizeAttrs {
        antialias: i64 = "antialias",
        axes: Vec<i64> = "axes",
        coordinate_transformation_mode: String = "coordinate_transformation_mode",
        cubic_coeff_a: f32 = "cubic_coeff_a",
        exclude_outside: i64 = "exclude_outside",
        extrapolation_value: f32 = "extrapolation_value",
        keep_aspect_ratio_policy: String = "keep_aspect_ratio_policy",
        mode: String = "mode",
        nearest_mode: String = "nearest_mode",
    }
);
op_attrs!(
    /// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceL2; axes is an
    /// attribute before opset 13 (ReduceSum) or 18 (the others).
    ReduceAttrs { axes: Vec<i64> = "axes", keepdims: i64 = "keepdims", noop_with_empty_axes: i64 = "noop_with_empty_axes" }
);
op_attrs!(CastAttrs {
    to: i64 = "to",
    saturate: i64 = "saturate"
});
op_attrs!(ShapeAttrs {
    start: i64 = "start",
    end: i64 = "end"
});
op_attrs!(ConstantOfShapeAttrs { value: Arc<Tensor> = "value" });
op_attrs!(
    /// Constant: exactly one of the fields is present.
    ConstantAttrs {
        value: Arc<Tensor> = "value",
        value_float: f32 = "value_float",
        value_floats: Vec<f32> = "value_floats",
        value_int: i64 = "value_int",
        value_ints: Vec<i64> = "value_ints",
        value_string: String = "value_string",
        value_strings: Vec<String> = "value_strings",
    }
);
op_attrs!(
    /// QuantizeLinear and DequantizeLinear.
    QdqAttrs { axis: i64 = "axis", saturate: i64 = "saturate", block_size: i64 = "block_size", output_dtype: i64 = "output_dtype" }
);

op_attrs!(
    /// LSTM, GRU and RNN (each reads the fields its ONNX definition has;
    /// the kernel refuses one that does not belong to its op).
    RecurrentAttrs {
        activation_alpha: Vec<f32> = "activation_alpha",
        activation_beta: Vec<f32> = "activation_beta",
        activations: Vec<String> = "activations",
        clip: f32 = "clip",
        direction: String = "direction",
        hidden_size: i64 = "hidden_size",
        input_forget: i64 = "input_forget",
        layout: i64 = "layout",
        linear_before_reset: i64 = "linear_before_reset",
    }
);
op_attrs!(EinsumAttrs {
    equation: String = "equation"
});

/// An attribute of an opaque node, kept in the encoding of the file it came
/// from (the IR does not interpret it).
#[derive(Clone, Debug, PartialEq)]
pub struct OpaqueAttr {
    pub name: String,
    pub encoded: Vec<u8>,
}

/// Declares the closed op set: variant, attribute struct (if any) and ONNX name.
macro_rules! define_ops {
    ($( $variant:ident $(($attrs:ident))? = $onnx:literal => $meta:expr ),* $(,)?) => {
        /// An operation. Known ops are ONNX default-domain ops; see [`Op::Opaque`].
        #[derive(Clone, Debug, PartialEq)]
        pub enum Op {
            $( $variant $(($attrs))? , )*
            /// Any op outside the closed set, kept as it was read.
            Opaque { domain: String, op_type: String, attrs: Vec<OpaqueAttr> },
            /// A gradient op of the project domain ([`crate::grad_op::GRAD_DOMAIN`]),
            /// made by autodiff and run by wdq-exec.
            Grad(GradOp),
        }

        impl Op {
            /// The metadata row of every closed-set op, in declaration order.
            pub const ALL_META: &'static [OpMeta] = &[ $( $meta.named($onnx) ),* ];

            /// This op's metadata row ([`crate::op_meta`]); opaque and
            /// gradient ops get a row of their own family.
            pub fn meta(&self) -> &'static OpMeta {
                match self {
                    $( define_ops!(@pat $variant $(($attrs))?) => {
                        const M: OpMeta = $meta.named($onnx);
                        &M
                    } )*
                    Op::Opaque { .. } => &OPAQUE_META,
                    Op::Grad(_) => &GRAD_META,
                }
            }

            /// The row of the closed-set op named `op_type`.
            pub(crate) fn meta_of_name(op_type: &str) -> Option<&'static OpMeta> {
                match op_type {
                    $( $onnx => {
                        const M: OpMeta = $meta.named($onnx);
                        Some(&M)
                    } )*
                    _ => None,
                }
            }

            /// The closed-set op named `op_type` (default domain) with these
            /// attributes; `None` if the name is unknown.
            ///
            /// # Errors
            /// [`UnknownAttr`] when the op is known but an attribute is not.
            pub fn from_onnx(op_type: &str, attrs: &[Attr]) -> Option<Result<Op, UnknownAttr>> {
                match op_type {
                    $( $onnx => Some(define_ops!(@parse $variant $(($attrs))?, attrs)), )*
                    _ => None,
                }
            }

            /// ONNX op_type.
            pub fn op_type(&self) -> &str {
                match self {
                    $( define_ops!(@pat $variant $(($attrs))?) => $onnx, )*
                    Op::Opaque { op_type, .. } => op_type,
                    Op::Grad(g) => g.op_type(),
                }
            }

            /// Operator domain ("" for the default ONNX domain).
            pub fn domain(&self) -> &str {
                match self {
                    Op::Opaque { domain, .. } => domain,
                    Op::Grad(_) => crate::grad_op::GRAD_DOMAIN,
                    _ => "",
                }
            }

            /// Attributes of a known op that are present (empty for opaque ops,
            /// whose attributes stay encoded).
            pub fn attrs(&self) -> Vec<Attr> {
                match self {
                    $( define_ops!(@bind a $variant $(($attrs))?) => define_ops!(@attrs a $(($attrs))?), )*
                    Op::Opaque { .. } => Vec::new(),
                    Op::Grad(g) => g.attrs(),
                }
            }
        }
    };
    (@parse $variant:ident ($attrs:ident), $a:ident) => { $attrs::from_attrs($a).map(Op::$variant) };
    (@parse $variant:ident, $a:ident) => {
        match $a.first() { Some(x) => Err(UnknownAttr { name: x.name.clone(), wrong_kind: None }), None => Ok(Op::$variant) }
    };
    (@pat $variant:ident ($attrs:ident)) => { Op::$variant(_) };
    (@pat $variant:ident) => { Op::$variant };
    (@bind $a:ident $variant:ident ($attrs:ident)) => { Op::$variant($a) };
    (@bind $a:ident $variant:ident) => { Op::$variant };
    (@attrs $a:ident ($attrs:ident)) => { $a.to_attrs() };
    (@attrs $a:ident) => { Vec::new() };
}

// One row per op: variant (attributes), ONNX name, metadata (op_meta.rs).
define_ops! {
    Conv(ConvAttrs) = "Conv" => OpMeta::compute().ins(2, 3).shape(SameRank).grad(Layer).weighted(),
    ConvTranspose(ConvAttrs) = "ConvTranspose" => OpMeta::compute().ins(2, 3).shape(SameRank).grad(Layer).weighted(),
    Gemm(GemmAttrs) = "Gemm" => OpMeta::compute().ins(2, 3).grad(Layer).weighted(),
    MatMul = "MatMul" => OpMeta::compute().ins(2, 2).grad(Layer).weighted(),
    Add = "Add" => OpMeta::binary(),
    Sub = "Sub" => OpMeta::binary(),
    Mul = "Mul" => OpMeta::binary(),
    Div = "Div" => OpMeta::binary(),
    Pow = "Pow" => OpMeta::binary(),
    Max = "Max" => OpMeta::variadic(),
    Min = "Min" => OpMeta::variadic(),
    Sum = "Sum" => OpMeta::variadic(),
    Mean = "Mean" => OpMeta::variadic(),
    Mod(ModAttrs) = "Mod" => OpMeta::binary(),
    Relu = "Relu" => OpMeta::unary().grad(Activation),
    LeakyRelu(ActivationAttrs) = "LeakyRelu" => OpMeta::unary().grad(Activation),
    PRelu = "PRelu" => OpMeta::compute().ins(2, 2).shape(Same).grad(Layer),
    Clip(ClipAttrs) = "Clip" => OpMeta::unary().ins(1, 3).grad(Activation),
    Sigmoid = "Sigmoid" => OpMeta::unary().grad(Activation),
    Tanh = "Tanh" => OpMeta::unary().grad(Activation),
    HardSigmoid(ActivationAttrs) = "HardSigmoid" => OpMeta::unary().grad(Activation),
    HardSwish = "HardSwish" => OpMeta::unary().grad(Activation),
    Erf = "Erf" => OpMeta::unary().grad(Activation),
    Gelu(ActivationAttrs) = "Gelu" => OpMeta::unary().grad(Activation),
    Elu(ActivationAttrs) = "Elu" => OpMeta::unary().grad(Activation),
    Selu(SeluAttrs) = "Selu" => OpMeta::unary().grad(Activation),
    Celu(ActivationAttrs) = "Celu" => OpMeta::unary().grad(Activation),
    Softplus = "Softplus" => OpMeta::unary().grad(Activation),
    Softsign = "Softsign" => OpMeta::unary().grad(Activation),
    Shrink(ShrinkAttrs) = "Shrink" => OpMeta::unary().grad(Activation),
    Sign = "Sign" => OpMeta::unary().grad(Activation),
    Exp = "Exp" => OpMeta::unary().grad(Elementwise),
    Log = "Log" => OpMeta::unary().grad(Elementwise),
    Sqrt = "Sqrt" => OpMeta::unary().grad(Elementwise),
    Neg = "Neg" => OpMeta::unary().grad(Elementwise),
    Abs = "Abs" => OpMeta::unary().grad(Activation),
    Floor = "Floor" => OpMeta::unary(),
    Ceil = "Ceil" => OpMeta::unary(),
    Reciprocal = "Reciprocal" => OpMeta::unary().grad(Elementwise),
    Softmax(AxisAttrs) = "Softmax" => OpMeta::compute().shape(Same).grad(Layer),
    LogSoftmax(AxisAttrs) = "LogSoftmax" => OpMeta::compute().shape(Same).grad(Layer),
    BatchNormalization(BatchNormAttrs) = "BatchNormalization" => OpMeta::compute().ins(5, 5).outs(1, 5).shape(Same).grad(Layer),
    LayerNormalization(LayerNormAttrs) = "LayerNormalization" => OpMeta::compute().ins(2, 3).outs(1, 3).shape(Same).grad(Layer),
    InstanceNormalization(InstanceNormAttrs) = "InstanceNormalization" => OpMeta::compute().ins(3, 3).shape(Same).grad(Layer),
    GroupNormalization(GroupNormAttrs) = "GroupNormalization" => OpMeta::compute().ins(3, 3).shape(Same).grad(Layer),
    LRN(LrnAttrs) = "LRN" => OpMeta::compute().shape(Same).grad(Layer),
    MaxPool(PoolAttrs) = "MaxPool" => OpMeta::compute().outs(1, 2).shape(SameRank).grad(Layer),
    AveragePool(PoolAttrs) = "AveragePool" => OpMeta::compute().shape(SameRank).grad(Layer),
    GlobalAveragePool = "GlobalAveragePool" => OpMeta::compute().shape(SameRank).grad(Layer),
    GlobalMaxPool = "GlobalMaxPool" => OpMeta::compute().shape(SameRank).grad(Layer),
    Flatten(AxisAttrs) = "Flatten" => OpMeta::tensor().grad(Movement),
    Reshape(ReshapeAttrs) = "Reshape" => OpMeta::tensor().ins(1, 2).grad(Movement),
    Transpose(TransposeAttrs) = "Transpose" => OpMeta::tensor().shape(SameRank).grad(Movement),
    Concat(AxisAttrs) = "Concat" => OpMeta::tensor().ins(1, VARIADIC).shape(SameRank).grad(Movement),
    Split(SplitAttrs) = "Split" => OpMeta::tensor().ins(1, 2).outs(1, VARIADIC).shape(SameRank).grad(Movement),
    Slice(SliceAttrs) = "Slice" => OpMeta::tensor().ins(1, 5).shape(SameRank).grad(Movement),
    Squeeze(AxesAttrs) = "Squeeze" => OpMeta::tensor().ins(1, 2).grad(Movement),
    Unsqueeze(AxesAttrs) = "Unsqueeze" => OpMeta::tensor().ins(1, 2).grad(Movement),
    Pad(PadAttrs) = "Pad" => OpMeta::tensor().ins(1, 4).shape(SameRank).grad(Movement),
    Gather(AxisAttrs) = "Gather" => OpMeta::tensor().ins(2, 2).grad(Movement),
    Identity = "Identity" => OpMeta::tensor().shape(Same).grad(Movement),
    Dropout(DropoutAttrs) = "Dropout" => OpMeta::tensor().ins(1, 3).outs(1, 2).shape(Same).grad(Movement),
    Resize(ResizeAttrs) = "Resize" => OpMeta::tensor().ins(1, 4).shape(SameRank).grad(Movement),
    ReduceMean(ReduceAttrs) = "ReduceMean" => OpMeta::tensor().ins(1, 2).grad(Movement),
    ReduceSum(ReduceAttrs) = "ReduceSum" => OpMeta::tensor().ins(1, 2).grad(Movement),
    ReduceMax(ReduceAttrs) = "ReduceMax" => OpMeta::tensor().ins(1, 2).grad(Movement),
    ReduceMin(ReduceAttrs) = "ReduceMin" => OpMeta::tensor().ins(1, 2).grad(Movement),
    ReduceL2(ReduceAttrs) = "ReduceL2" => OpMeta::tensor().ins(1, 2).grad(Movement),
    Where = "Where" => OpMeta::tensor().ins(3, 3).grad(Elementwise),
    Equal = "Equal" => OpMeta::tensor().ins(2, 2).shape(Compare),
    Greater = "Greater" => OpMeta::tensor().ins(2, 2).shape(Compare),
    Less = "Less" => OpMeta::tensor().ins(2, 2).shape(Compare),
    Not = "Not" => OpMeta::tensor(),
    Cast(CastAttrs) = "Cast" => OpMeta::tensor().grad(Movement),
    Shape(ShapeAttrs) = "Shape" => OpMeta::tensor(),
    ConstantOfShape(ConstantOfShapeAttrs) = "ConstantOfShape" => OpMeta::tensor(),
    Expand = "Expand" => OpMeta::tensor().ins(2, 2).grad(Movement),
    Tile = "Tile" => OpMeta::tensor().ins(2, 2).shape(SameRank).grad(Movement),
    Range = "Range" => OpMeta::tensor().ins(3, 3),
    Constant(ConstantAttrs) = "Constant" => OpMeta::tensor().ins(0, 0),
    QuantizeLinear(QdqAttrs) = "QuantizeLinear" => OpMeta::tensor().ins(2, 3).grad(Movement),
    DequantizeLinear(QdqAttrs) = "DequantizeLinear" => OpMeta::tensor().ins(2, 3).grad(Movement),
    LSTM(RecurrentAttrs) = "LSTM" => OpMeta::compute().ins(3, 8).outs(1, 3).grad(Recurrent).weighted(),
    GRU(RecurrentAttrs) = "GRU" => OpMeta::compute().ins(3, 6).outs(1, 2).grad(Recurrent).weighted(),
    RNN(RecurrentAttrs) = "RNN" => OpMeta::compute().ins(3, 6).outs(1, 2).grad(Recurrent).weighted(),
    Einsum(EinsumAttrs) = "Einsum" => OpMeta::compute().ins(1, 2).grad(Einsum),
}

/// The row of every [`Op::Opaque`]: not run, any arity.
const OPAQUE_META: OpMeta = OpMeta::not_run()
    .ins(0, VARIADIC)
    .outs(1, VARIADIC)
    .named("");

/// The row of every [`Op::Grad`]: run by wdq-exec's gradient kernels.
const GRAD_META: OpMeta = OpMeta::of(Family::Gradient)
    .ins(1, VARIADIC)
    .outs(1, VARIADIC)
    .named("");

impl Op {
    /// Whether this op owns a trainable weight tensor (a "layer" in the
    /// method's sense) when that operand is constant.
    pub fn is_weighted_kind(&self) -> bool {
        self.meta().weighted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttrValue;

    #[test]
    fn known_op_round_trips_its_attributes() {
        let attrs = vec![
            Attr {
                name: "group".into(),
                value: AttrValue::Int(4),
            },
            Attr {
                name: "strides".into(),
                value: AttrValue::Ints(vec![2, 2]),
            },
        ];
        let op = Op::from_onnx("Conv", &attrs).unwrap().unwrap();
        assert_eq!(op.op_type(), "Conv");
        let back = op.attrs();
        assert_eq!(back.len(), 2);
        assert!(back.contains(&attrs[0]) && back.contains(&attrs[1]));
    }

    #[test]
    fn unknown_attribute_or_kind_is_refused() {
        let odd = vec![Attr {
            name: "fancy".into(),
            value: AttrValue::Int(1),
        }];
        assert!(Op::from_onnx("Relu", &odd).unwrap().is_err());
        let wrong_kind = vec![Attr {
            name: "group".into(),
            value: AttrValue::Float(1.0),
        }];
        assert!(Op::from_onnx("Conv", &wrong_kind).unwrap().is_err());
        assert!(Op::from_onnx("NotAnOp", &[]).is_none());
    }
}

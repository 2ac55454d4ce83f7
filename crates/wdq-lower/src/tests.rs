//! Unit tests on small hand-built graphs: axes, skips, names, weight chains.

use crate::{
    activation_points, lower, ActivationRanges, Int4Storage, LayerChoice, LowerError, LowerOptions,
    QuantPlan, WeightGranularity,
};
use wdq_ir::op::{ConvAttrs, GemmAttrs};
use wdq_ir::{DType, Graph, Model, NodeId, Op, OpsetId, Tensor, TensorType, ValueDef, ValueId};

/// `z = Relu(op(x, w[, b]))` with `x` a graph input and `z` the output.
/// `weight_first` puts the constant at input 0 (MatMul/Gemm with constant A).
fn layer_model(op: Op, w_shape: &[usize], bias: Option<usize>, weight_first: bool) -> Model {
    let mut g = Graph::default();
    let x = g.add_value(
        "x",
        Some(TensorType::known(DType::F32, &[2, 4])),
        ValueDef::Input,
    );
    g.inputs.push(x);
    let n: usize = w_shape.iter().product();
    let values: Vec<f32> = (0..n).map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0).collect();
    let w = g.add_initializer("w", Tensor::from_f32(w_shape.to_vec(), values));
    let mut inputs = if weight_first {
        vec![Some(w), Some(x)]
    } else {
        vec![Some(x), Some(w)]
    };
    if let Some(c) = bias {
        let b = g.add_initializer("b", Tensor::from_f32(vec![c], vec![0.25; c]));
        inputs.push(Some(b));
    }
    let layer = g.add_node("layer", op, inputs, &["y"], None);
    let y = g.node(layer).output(0).unwrap();
    let relu = g.add_node("relu", Op::Relu, vec![Some(y)], &["z"], None);
    g.outputs.push(g.node(relu).output(0).unwrap());
    Model {
        ir_version: 7,
        opsets: vec![OpsetId {
            domain: String::new(),
            version: 13,
        }],
        graph: g,
        ..Model::default()
    }
}

fn plan(node: u32, bits: u8) -> QuantPlan {
    let mut plan = QuantPlan::default();
    plan.layers.insert(NodeId(node), LayerChoice { bits });
    plan
}

fn options() -> LowerOptions {
    LowerOptions {
        int4_storage: Int4Storage::Int8,
        ..LowerOptions::default()
    }
}

fn ranges(model: &Model) -> ActivationRanges {
    let points = activation_points(model, &options());
    ActivationRanges(points.into_iter().map(|p| (p, (-1.0, 2.0))).collect())
}

/// The DequantizeLinear node that produces input `slot` of `node`.
fn dq_of(graph: &Graph, node: NodeId, slot: usize) -> (NodeId, wdq_ir::op::QdqAttrs) {
    let v = graph.node(node).input(slot).unwrap();
    let ValueDef::Node { node: dq, .. } = graph.value(v).def else {
        panic!("input {slot} is not computed")
    };
    match &graph.node(dq).op {
        Op::DequantizeLinear(a) => (dq, a.clone()),
        op => panic!("input {slot} comes from {}", op.op_type()),
    }
}

fn gemm(trans_b: i64) -> Op {
    Op::Gemm(GemmAttrs {
        trans_b: Some(trans_b),
        ..GemmAttrs::default()
    })
}

#[test]
fn gemm_axis_follows_trans_b_and_bias_is_int32_per_channel() {
    for (trans_b, shape, axis) in [(0, [4, 3], 1), (1, [3, 4], 0)] {
        let model = layer_model(gemm(trans_b), &shape, Some(3), false);
        assert_eq!(activation_points(&model, &options()), vec![ValueId(0)]);
        let lowered = lower(&model, &plan(0, 8), &ranges(&model), &options()).unwrap();
        let g = &lowered.model.graph;
        let (_, w) = dq_of(g, NodeId(0), 1);
        assert_eq!(w.axis, Some(axis));
        let (bias_dq, b) = dq_of(g, NodeId(0), 2);
        assert_eq!(b.axis, Some(0));
        let codes = g
            .resolve_const(g.node(bias_dq).input(0).unwrap())
            .unwrap()
            .1;
        assert_eq!((codes.dtype(), codes.shape()), (DType::I32, &[3][..]));
        assert_eq!(
            lowered.layers[0].granularity,
            format!("per-channel(axis={axis})")
        );
        // The data input is read through the pair; the graph input keeps its name.
        let (x_dq, _) = dq_of(g, NodeId(0), 0);
        assert_eq!(g.value(g.inputs[0]).name, "x");
        assert_eq!(
            g.value(g.node(x_dq).output(0).unwrap()).name,
            "x_dequantized"
        );
    }
}

#[test]
fn constant_a_is_skipped() {
    let model = layer_model(Op::MatMul, &[3, 2], None, true);
    let lowered = lower(
        &model,
        &plan(0, 4),
        &ActivationRanges::default(),
        &options(),
    )
    .unwrap();
    assert!(lowered.layers.is_empty());
    assert_eq!(lowered.skipped.len(), 1);
    assert!(
        lowered.skipped[0].reason.contains("is A"),
        "{}",
        lowered.skipped[0].reason
    );
    assert_eq!(lowered.model, model);
}

#[test]
fn grouped_conv_transpose_gets_per_tensor_scales() {
    let conv = |group| {
        Op::ConvTranspose(ConvAttrs {
            group: Some(group),
            ..ConvAttrs::default()
        })
    };
    let model = layer_model(conv(2), &[4, 1, 1, 1], Some(2), false);
    let lowered = lower(&model, &plan(0, 8), &ranges(&model), &options()).unwrap();
    assert_eq!(lowered.layers[0].granularity, "per-tensor");
    let (_, b) = dq_of(&lowered.model.graph, NodeId(0), 2);
    assert_eq!(b.axis, None);
    let model = layer_model(conv(1), &[4, 2, 1, 1], Some(2), false);
    let lowered = lower(&model, &plan(0, 8), &ranges(&model), &options()).unwrap();
    assert_eq!(lowered.layers[0].granularity, "per-channel(axis=1)");
    let per_tensor = LowerOptions {
        granularity: WeightGranularity::PerTensor,
        ..options()
    };
    let lowered = lower(&model, &plan(0, 8), &ranges(&model), &per_tensor).unwrap();
    assert_eq!(lowered.layers[0].granularity, "per-tensor");
}

#[test]
fn names_never_collide_and_identity_chains_die() {
    let mut model = layer_model(Op::MatMul, &[4, 3], None, false);
    let g = &mut model.graph;
    // The weight now arrives through an Identity, and a value already has
    // the name the quantized weight would take.
    let raw = g.add_initializer("w_raw", Tensor::from_f32(vec![4, 3], vec![0.5; 12]));
    let identity = g.add_node(
        "id",
        Op::Identity,
        vec![Some(raw)],
        &["w_id"],
        Some(NodeId(0)),
    );
    let w_id = g.node(identity).output(0).unwrap();
    g.node_mut(NodeId(0)).inputs[1] = Some(w_id);
    g.add_initializer("w_id_quantized", Tensor::from_f32(vec![1], vec![0.0]));
    let lowered = lower(&model, &plan(0, 4), &ranges(&model), &options()).unwrap();
    let g = &lowered.model.graph;
    assert!(!g.order.contains(&identity));
    let (dq, _) = dq_of(g, NodeId(0), 1);
    let stored = g.node(dq).input(0).unwrap();
    assert_eq!(g.value(stored).name, "w_id_quantized_2");
    wdq_ir::verify(g).unwrap();
}

#[test]
fn plan_must_name_layers() {
    let model = layer_model(Op::MatMul, &[4, 3], None, false);
    assert_eq!(
        lower(&model, &plan(1, 8), &ranges(&model), &options()).unwrap_err(),
        LowerError::NotALayer { node: 1 }
    );
}

#[test]
fn sixteen_bit_activations_need_opset_21() {
    let mut model = layer_model(gemm(1), &[3, 4], Some(3), false);
    let options = LowerOptions {
        activations: crate::ActivationType::U16,
        ..options()
    };
    let ranges = ranges(&model);
    assert!(matches!(
        lower(&model, &plan(0, 8), &ranges, &options),
        Err(LowerError::OpsetTooLow {
            have: 13,
            need: 21,
            ..
        })
    ));
    model.opsets[0].version = 21;
    let lowered = lower(&model, &plan(0, 8), &ranges, &options).unwrap();
    let g = &lowered.model.graph;
    let (x_dq, _) = dq_of(g, NodeId(0), 0);
    let zp = g.resolve_const(g.node(x_dq).input(2).unwrap()).unwrap().1;
    assert_eq!(zp.dtype(), DType::U16);
    assert_eq!(lowered.model.ir_version, 10);
}

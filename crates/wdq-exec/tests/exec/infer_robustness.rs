//! Shape inference and folding never panic on odd graphs: every op (both
//! families) is given combinations of graph inputs and constants of odd
//! shapes and types, and must answer with shapes, "unknown" or an error.

use std::panic::{catch_unwind, AssertUnwindSafe};
use wdq_exec::fold::fold_constants;
use wdq_exec::infer::infer_shapes;
use wdq_ir::op::*;
use wdq_ir::{DType, Model, Op, OpsetId, Tensor, TensorData, TensorType, ValueDef};

/// A source operand: a graph input of a shape, or a constant.
#[derive(Clone, Debug)]
enum Source {
    Input(DType, Vec<usize>),
    Const(Tensor),
}

fn sources() -> Vec<Source> {
    let bools = Tensor::new(DType::Bool, vec![2], TensorData::Bool(vec![true, false])).unwrap();
    vec![
        Source::Input(DType::F32, vec![2, 3, 4, 4]),
        Source::Input(DType::F32, vec![3]),
        Source::Input(DType::F32, vec![]),
        Source::Input(DType::I64, vec![0, 2]),
        Source::Const(Tensor::from_f32(vec![4, 3, 1, 1], vec![0.5; 12])),
        Source::Const(Tensor::from_f32(vec![3, 0, 2, 2], vec![])),
        Source::Const(Tensor::from_i64(vec![3], vec![-1, 0, 5])),
        Source::Const(Tensor::from_i64(vec![], vec![-7])),
        Source::Const(Tensor::from_f32(vec![4], vec![1.0, 1.0, 2.5, 0.0])),
        Source::Const(bools),
    ]
}

fn ops() -> Vec<Op> {
    let conv = |auto_pad: Option<&str>, group| ConvAttrs {
        auto_pad: auto_pad.map(str::to_string),
        group: Some(group),
        strides: Some(vec![2, 2]),
        dilations: Some(vec![i64::MAX / 4, 1]),
        pads: Some(vec![1, 1, 1, 1]),
        output_padding: Some(vec![1, 1]),
        ..Default::default()
    };
    let pool = |ceil| PoolAttrs {
        kernel_shape: Some(vec![3, 0]),
        ceil_mode: Some(ceil),
        pads: Some(vec![0, 0, 9, 9]),
        ..Default::default()
    };
    vec![
        Op::Conv(ConvAttrs::default()),
        Op::Conv(conv(Some("SAME_LOWER"), 3)),
        Op::Conv(conv(None, 0)),
        Op::ConvTranspose(ConvAttrs::default()),
        Op::ConvTranspose(conv(None, 2)),
        Op::ConvTranspose(ConvAttrs {
            output_shape: Some(vec![-3]),
            ..Default::default()
        }),
        Op::Gemm(GemmAttrs {
            trans_a: Some(1),
            ..Default::default()
        }),
        Op::MatMul,
        Op::Add,
        Op::PRelu,
        Op::Relu,
        Op::Softmax(AxisAttrs { axis: Some(9) }),
        Op::BatchNormalization(BatchNormAttrs::default()),
        Op::LayerNormalization(LayerNormAttrs {
            axis: Some(-9),
            ..Default::default()
        }),
        Op::MaxPool(pool(1)),
        Op::AveragePool(pool(0)),
        Op::AveragePool(PoolAttrs {
            kernel_shape: Some(vec![2, 2]),
            ceil_mode: Some(1),
            ..Default::default()
        }),
        Op::GlobalMaxPool,
        Op::Flatten(AxisAttrs { axis: Some(-9) }),
        Op::Reshape(ReshapeAttrs::default()),
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![3, 3]),
        }),
        Op::Concat(AxisAttrs { axis: Some(0) }),
        Op::Split(SplitAttrs::default()),
        Op::Slice(SliceAttrs::default()),
        Op::Squeeze(AxesAttrs::default()),
        Op::Unsqueeze(AxesAttrs::default()),
        Op::Pad(PadAttrs::default()),
        Op::Gather(AxisAttrs { axis: Some(1) }),
        Op::Resize(ResizeAttrs::default()),
        Op::ReduceSum(ReduceAttrs::default()),
        Op::Where,
        Op::Equal,
        Op::Not,
        Op::Cast(CastAttrs {
            to: Some(10),
            saturate: None,
        }),
        Op::Shape(ShapeAttrs::default()),
        Op::ConstantOfShape(ConstantOfShapeAttrs::default()),
        Op::Expand,
        Op::Tile,
        Op::Range,
        Op::Constant(ConstantAttrs {
            value_strings: Some(vec!["a".into()]),
            ..Default::default()
        }),
        Op::QuantizeLinear(QdqAttrs {
            block_size: Some(2),
            ..Default::default()
        }),
        Op::DequantizeLinear(QdqAttrs::default()),
        Op::Opaque {
            domain: "x".into(),
            op_type: "Y".into(),
            attrs: vec![],
        },
    ]
}

fn build(op: &Op, picks: &[&Source]) -> Model {
    let mut m = Model {
        opsets: vec![OpsetId {
            domain: String::new(),
            version: 13,
        }],
        ..Default::default()
    };
    let g = &mut m.graph;
    let inputs = picks
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Some(match s {
                Source::Input(d, shape) => {
                    let v = g.add_value(
                        format!("in{i}"),
                        Some(TensorType::known(*d, shape)),
                        ValueDef::Input,
                    );
                    g.inputs.push(v);
                    v
                }
                Source::Const(t) => g.add_initializer(format!("c{i}"), t.clone()),
            })
        })
        .collect();
    let n = g.add_node("n", op.clone(), inputs, &["o0", "o1"], None);
    let outs: Vec<_> = g.node(n).outputs.iter().flatten().copied().collect();
    g.outputs.extend(outs);
    m
}

#[test]
fn inference_and_folding_never_panic() {
    let sources = sources();
    let mut runs = 0;
    for op in ops() {
        for a in &sources {
            for b in &sources {
                for c in &sources {
                    for len in 1..=3 {
                        let picks = &[a, b, c][..len];
                        let model = build(&op, picks);
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            let _ = infer_shapes(&mut model.clone(), &[]);
                            let _ = fold_constants(&mut model.clone());
                        }));
                        assert!(r.is_ok(), "{op:?} panicked on {picks:?}");
                        runs += 1;
                    }
                }
            }
        }
    }
    assert!(runs > 10_000);
}

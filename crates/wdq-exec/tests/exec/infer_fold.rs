//! Constant folding: shape sub-graphs collapse once input shapes are known;
//! weight chains, QDQ nodes and large outputs are left alone.

use std::sync::Arc;
use wdq_exec::fold::{fold_constants, fold_with_input_shapes};
use wdq_ir::op::*;
use wdq_ir::{
    DType, Dim, Graph, Model, Op, OpsetId, Tensor, TensorData, TensorType, ValueDef, ValueId,
};

fn model(opset: i64) -> Model {
    Model {
        opsets: vec![OpsetId {
            domain: String::new(),
            version: opset,
        }],
        ..Default::default()
    }
}
fn batch_input(g: &mut Graph, name: &str, rest: &[usize]) -> ValueId {
    let dims = std::iter::once(Dim::Named("N".into()))
        .chain(rest.iter().map(|&d| Dim::Known(d)))
        .collect();
    let id = g.add_value(
        name,
        Some(TensorType {
            dtype: DType::F32,
            shape: Some(dims),
        }),
        ValueDef::Input,
    );
    g.inputs.push(id);
    id
}
fn node(g: &mut Graph, op: Op, inputs: &[Option<ValueId>], out: &str) -> ValueId {
    let n = g.add_node(format!("{out}_node"), op, inputs.to_vec(), &[out], None);
    g.node(n).output(0).unwrap()
}
fn ints(g: &mut Graph, name: &str, v: Vec<i64>) -> ValueId {
    g.add_initializer(name, Tensor::from_i64(vec![v.len()], v))
}
fn constant(t: Tensor) -> Op {
    Op::Constant(ConstantAttrs {
        value: Some(Arc::new(t)),
        ..Default::default()
    })
}
fn live_ops(m: &Model) -> Vec<String> {
    m.graph
        .live_nodes()
        .map(|(_, n)| n.op.op_type().to_string())
        .collect()
}
fn initializer(m: &Model, v: ValueId) -> Option<Arc<Tensor>> {
    match &m.graph.value(v).def {
        ValueDef::Initializer(t) => Some(t.clone()),
        _ => None,
    }
}

#[test]
fn torch_flatten_collapses_to_a_constant_shape() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[8, 4, 4]);
    let relu = node(g, Op::Relu, &[Some(x)], "relu");
    let shape = node(g, Op::Shape(ShapeAttrs::default()), &[Some(relu)], "shape");
    let c0 = node(g, constant(Tensor::from_i64(vec![], vec![0])), &[], "c0");
    let n = node(
        g,
        Op::Gather(AxisAttrs { axis: Some(0) }),
        &[Some(shape), Some(c0)],
        "n",
    );
    let n64 = node(
        g,
        Op::Cast(CastAttrs {
            to: Some(7),
            saturate: None,
        }),
        &[Some(n)],
        "n64",
    );
    let axes = ints(g, "axes", vec![0]);
    let n1 = node(
        g,
        Op::Unsqueeze(AxesAttrs::default()),
        &[Some(n64), Some(axes)],
        "n1",
    );
    let minus = node(
        g,
        constant(Tensor::from_i64(vec![1], vec![-1])),
        &[],
        "minus1",
    );
    let spec = node(
        g,
        Op::Concat(AxisAttrs { axis: Some(0) }),
        &[Some(n1), Some(minus)],
        "spec",
    );
    let out = node(
        g,
        Op::Reshape(ReshapeAttrs::default()),
        &[Some(relu), Some(spec)],
        "out",
    );
    let ten = node(g, constant(Tensor::from_i64(vec![1], vec![10])), &[], "ten");
    let zshape = node(
        g,
        Op::Concat(AxisAttrs { axis: Some(0) }),
        &[Some(n1), Some(ten)],
        "zshape",
    );
    let zeros = node(
        g,
        Op::ConstantOfShape(ConstantOfShapeAttrs::default()),
        &[Some(zshape)],
        "zeros",
    );
    let r = node(g, Op::Range, &[Some(c0), Some(n64), Some(n64)], "r");
    g.outputs.extend([out, zeros, r]);

    // Without input shapes nothing is constant.
    let mut plain = m.clone();
    assert!(fold_constants(&mut plain).unwrap().folded.is_empty());

    let summary = fold_with_input_shapes(&mut m, &[("x".into(), vec![4, 8, 4, 4])]).unwrap();
    assert_eq!(summary.shapes_resolved, 1);
    assert_eq!(live_ops(&m), ["Relu", "Reshape"]);
    let reshape = m.graph.live_nodes().last().unwrap().1;
    assert_eq!(reshape.input(1), Some(spec));
    let t = initializer(&m, spec).expect("Reshape's shape is a constant");
    assert_eq!(t.data(), &TensorData::I64(vec![4, -1]));
    let z = initializer(&m, zeros).expect("graph output folded under its name");
    assert_eq!((z.dtype(), z.shape()), (DType::F32, &[4usize, 10][..]));
    assert_eq!(m.graph.value(zeros).name, "zeros");
    assert_eq!(
        initializer(&m, r).unwrap().data(),
        &TensorData::I64(vec![0])
    );
    assert!(summary.removed_constants >= 3, "{summary:?}");
    assert_eq!(
        m.graph.value(out).ty,
        Some(TensorType::known(DType::F32, &[4, 128]))
    );
    wdq_ir::verify(&m.graph).unwrap();
}

#[test]
fn weight_chains_and_qdq_are_not_folded() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[3, 4, 4]);
    let stored = g.add_initializer("stored", Tensor::from_f32(vec![2, 3, 1, 1], vec![0.5; 6]));
    let w = node(g, Op::Identity, &[Some(stored)], "w");
    let c1 = node(g, Op::Conv(ConvAttrs::default()), &[Some(x), Some(w)], "c1");
    let w2 = node(
        g,
        constant(Tensor::from_f32(vec![2, 2, 1, 1], vec![1.0; 4])),
        &[],
        "w2",
    );
    let c2 = node(
        g,
        Op::Conv(ConvAttrs::default()),
        &[Some(c1), Some(w2)],
        "c2",
    );
    let q = Tensor::new(DType::I8, vec![2, 2], TensorData::I8(vec![1, 2, 3, 4])).unwrap();
    let qw = g.add_initializer("qw", q);
    let scale = g.add_initializer("scale", Tensor::from_f32(vec![], vec![0.1]));
    let dq = node(
        g,
        Op::DequantizeLinear(QdqAttrs::default()),
        &[Some(qw), Some(scale)],
        "dq",
    );
    let a = g.add_initializer("a", Tensor::from_f32(vec![2], vec![1.0, 2.0]));
    let q2 = node(
        g,
        Op::QuantizeLinear(QdqAttrs::default()),
        &[Some(a), Some(scale)],
        "q2",
    );
    let tiny = node(
        g,
        Op::Transpose(TransposeAttrs::default()),
        &[Some(dq)],
        "tiny",
    );
    let mm = node(g, Op::MatMul, &[Some(x), Some(dq)], "mm");
    let ax = ints(g, "ax", vec![0]);
    let neg = node(
        g,
        Op::Unsqueeze(AxesAttrs::default()),
        &[Some(a), Some(ax)],
        "neg",
    );
    g.outputs.extend([c2, q2, tiny, mm, neg]);

    let summary = fold_constants(&mut m).unwrap();
    assert_eq!(summary.folded, ["neg_node"]);
    let ops = live_ops(&m);
    for kept in [
        "Identity",
        "Constant",
        "DequantizeLinear",
        "QuantizeLinear",
        "Transpose",
    ] {
        assert!(
            ops.contains(&kept.to_string()),
            "{kept} missing from {ops:?}"
        );
    }
    assert_eq!(initializer(&m, neg).unwrap().shape(), [1, 2]);
}

#[test]
fn large_outputs_are_not_folded() {
    let mut m = model(13);
    let g = &mut m.graph;
    let big = ints(g, "big", vec![1 << 15, 1 << 14]);
    let small = ints(g, "small", vec![4, 4]);
    let b = node(
        g,
        Op::ConstantOfShape(ConstantOfShapeAttrs::default()),
        &[Some(big)],
        "b",
    );
    let s = node(
        g,
        Op::ConstantOfShape(ConstantOfShapeAttrs::default()),
        &[Some(small)],
        "s",
    );
    g.outputs.extend([b, s]);
    let summary = fold_constants(&mut m).unwrap();
    assert_eq!(summary.folded, ["s_node"]);
    assert!(initializer(&m, b).is_none());
}

#[test]
fn failing_constant_node_is_an_error_naming_the_pass() {
    let mut m = model(13);
    let g = &mut m.graph;
    let data = ints(g, "data", vec![1, 2]);
    let idx = ints(g, "idx", vec![5]);
    let y = node(
        g,
        Op::Gather(AxisAttrs::default()),
        &[Some(data), Some(idx)],
        "y",
    );
    g.outputs.push(y);
    let err = fold_constants(&mut m).unwrap_err().to_string();
    assert!(
        err.contains("fold_constants") && err.contains("y_node"),
        "{err}"
    );
}

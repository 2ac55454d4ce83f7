//! Plan: scheduling, constants, defaults, kept values and error reporting,
//! on a small hand-built model of compute ops.

use crate::common::{data, f32s, i64s, run1, Lcg};
use wdq_exec::plan::Plan;
use wdq_exec::{ExecError, KernelError, TensorValue};
use wdq_ir::op::{ConstantAttrs, ConvAttrs, PoolAttrs};
use wdq_ir::{DType, Dim, Graph, Model, Op, OpsetId, Tensor, TensorType, ValueDef, ValueId};

struct Built {
    model: Model,
    relu: ValueId,
    w: Tensor,
    b: Tensor,
}

/// x -> Conv(w, b) -> Relu -> MaxPool 2x2 -> GlobalAveragePool -> Mul(scale) -> Add(const) -> y,
/// with the Relu output also a graph output and `scale` an input with a default.
fn build(seed: u64) -> Built {
    let mut rng = Lcg(seed);
    let mut g = Graph::default();
    let ty = TensorType {
        dtype: DType::F32,
        shape: Some(vec![
            Dim::Named("N".into()),
            Dim::Known(4),
            Dim::Known(6),
            Dim::Known(6),
        ]),
    };
    let x = g.add_value("x", Some(ty), ValueDef::Input);
    let w = Tensor::from_f32(vec![8, 4, 3, 3], rng.vec(288));
    let b = Tensor::from_f32(vec![8], rng.vec(8));
    let wv = g.add_initializer("w", w.clone());
    let bv = g.add_initializer("b", b.clone());
    let scale = g.add_initializer("scale", Tensor::from_f32(vec![1], vec![2.0]));
    g.inputs = vec![x, scale];
    let conv = ConvAttrs {
        pads: Some(vec![1; 4]),
        ..Default::default()
    };
    let n = g.add_node(
        "conv",
        Op::Conv(conv),
        vec![Some(x), Some(wv), Some(bv)],
        &["c"],
        None,
    );
    let c = g.node(n).output(0);
    let n = g.add_node("relu", Op::Relu, vec![c], &["r"], None);
    let relu = g.node(n).output(0).unwrap();
    let pool = PoolAttrs {
        kernel_shape: Some(vec![2, 2]),
        strides: Some(vec![2, 2]),
        ..Default::default()
    };
    let n = g.add_node("pool", Op::MaxPool(pool), vec![Some(relu)], &["p"], None);
    let p = g.node(n).output(0);
    let n = g.add_node("gap", Op::GlobalAveragePool, vec![p], &["gap"], None);
    let gap = g.node(n).output(0);
    let n = g.add_node("mul", Op::Mul, vec![gap, Some(scale)], &["m"], None);
    let m = g.node(n).output(0);
    let k = ConstantAttrs {
        value_float: Some(0.5),
        ..Default::default()
    };
    let n = g.add_node("half", Op::Constant(k), vec![], &["half"], None);
    let half = g.node(n).output(0);
    let n = g.add_node("add", Op::Add, vec![m, half], &["y"], None);
    let y = g.node(n).output(0).unwrap();
    g.outputs = vec![y, relu];
    wdq_ir::verify(&g).unwrap();
    let model = Model {
        opsets: vec![OpsetId {
            domain: String::new(),
            version: 13,
        }],
        graph: g,
        ..Default::default()
    };
    Built { model, relu, w, b }
}

fn reference(built: &Built, x: &TensorValue, scale: f32) -> (Vec<f32>, Vec<f32>) {
    let w = TensorValue::from_tensor(&built.w).unwrap();
    let b = TensorValue::from_tensor(&built.b).unwrap();
    let conv = ConvAttrs {
        pads: Some(vec![1; 4]),
        ..Default::default()
    };
    let c = run1(&Op::Conv(conv), 13, &[Some(x), Some(&w), Some(&b)]);
    let r = run1(&Op::Relu, 13, &[Some(&c)]);
    let pool = PoolAttrs {
        kernel_shape: Some(vec![2, 2]),
        strides: Some(vec![2, 2]),
        ..Default::default()
    };
    let p = run1(&Op::MaxPool(pool), 13, &[Some(&r)]);
    let gap = run1(&Op::GlobalAveragePool, 13, &[Some(&p)]);
    (
        data(&gap).iter().map(|v| v * scale + 0.5).collect(),
        data(&r),
    )
}

#[test]
fn runs_graph_with_defaults_overrides_and_kept_values() {
    let built = build(1);
    let plan = Plan::new(&built.model).unwrap();
    assert_eq!(plan.input_names(), vec!["x", "scale"]);
    assert_eq!(plan.output_names(), vec!["y", "r"]);
    let x = Lcg(2).tensor(&[3, 4, 6, 6]);
    let out = plan.run(&[("x", x.clone())]).unwrap();
    let (y, r) = reference(&built, &x, 2.0);
    assert_eq!(out[0].shape(), &[3, 8, 1, 1]);
    assert_eq!(data(&out[0]), y);
    assert_eq!(data(&out[1]), r);
    let (out, kept) = plan
        .run_with(
            &[("x", x.clone()), ("scale", f32s(&[1], vec![3.0]))],
            &[built.relu],
        )
        .unwrap();
    assert_eq!(data(&out[0]), reference(&built, &x, 3.0).0);
    assert_eq!(data(&kept[&built.relu]), r);
}

#[test]
fn reports_bad_inputs_and_kernel_errors_with_context() {
    let built = build(1);
    let plan = Plan::new(&built.model).unwrap();
    assert!(matches!(plan.run(&[]), Err(ExecError::MissingGraphInput { name }) if name == "x"));
    let wrong_type = i64s(&[1, 4, 6, 6], vec![0; 144]);
    assert!(
        matches!(plan.run(&[("x", wrong_type)]), Err(ExecError::GraphInput { name, .. }) if name == "x")
    );
    let wrong_rank = f32s(&[4, 6, 6], vec![0.0; 144]);
    assert!(matches!(
        plan.run(&[("x", wrong_rank)]),
        Err(ExecError::GraphInput { .. })
    ));
    let unknown = f32s(&[1], vec![0.0]);
    assert!(plan
        .run(&[("x", Lcg(3).tensor(&[1, 4, 6, 6])), ("nope", unknown)])
        .is_err());
    let wrong_channels = Lcg(3).tensor(&[1, 5, 6, 6]);
    match plan.run(&[("x", wrong_channels)]) {
        Err(ExecError::Kernel {
            node,
            op,
            source: KernelError::Shape(_),
        }) => {
            assert_eq!((node.as_str(), op.as_str()), ("conv", "Conv"));
        }
        other => panic!("expected a Conv kernel error, got {other:?}"),
    }
}

#[test]
fn refuses_opaque_ops_when_planning() {
    let mut built = build(1);
    let g = &mut built.model.graph;
    let x = g.inputs[0];
    let op = Op::Opaque {
        domain: "com.example".into(),
        op_type: "Fancy".into(),
        attrs: vec![],
    };
    g.add_node("fancy", op, vec![Some(x)], &["f"], None);
    match Plan::new(&built.model) {
        Err(ExecError::UnsupportedOp { node, op }) => assert_eq!(
            (node.as_str(), op.as_str()),
            ("fancy", "com.example::Fancy")
        ),
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
}

#[test]
fn one_plan_serves_several_threads() {
    let built = build(4);
    let plan = Plan::new(&built.model).unwrap();
    let inputs: Vec<TensorValue> = (0..4).map(|i| Lcg(10 + i).tensor(&[2, 4, 6, 6])).collect();
    let serial: Vec<Vec<f32>> = inputs
        .iter()
        .map(|x| data(&plan.run(&[("x", x.clone())]).unwrap()[0]))
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .iter()
            .map(|x| s.spawn(|| data(&plan.run(&[("x", x.clone())]).unwrap()[0])))
            .collect();
        for (h, want) in handles.into_iter().zip(&serial) {
            assert_eq!(&h.join().unwrap(), want);
        }
    });
}

#[test]
fn unread_constants_of_unsupported_types_do_not_block_planning() {
    let mut built = build(1);
    let half = Tensor::new(DType::F16, vec![2], wdq_ir::TensorData::Bytes(vec![0; 4])).unwrap();
    built.model.graph.add_initializer("unused_f16", half);
    let plan = Plan::new(&built.model).unwrap();
    let x = Lcg(2).tensor(&[1, 4, 6, 6]);
    let (out, kept) = plan.run_with(&[("x", x)], &[ValueId(10_000)]).unwrap();
    assert_eq!(out.len(), 2);
    assert!(kept.is_empty());
}

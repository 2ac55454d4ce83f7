//! Static shape inference on hand-built graphs: CNNs (conv/pool formulas),
//! the PyTorch flatten pattern, Resize, Split, Slice with negative steps,
//! broadcasting, opaque ops, and contradictions named by node.

use wdq_exec::infer::{infer_shapes, InferError};
use wdq_exec::KernelError;
use wdq_ir::op::*;
use wdq_ir::{DType, Dim, Graph, Model, Op, OpsetId, Tensor, TensorType, ValueDef, ValueId};

fn model(opset: i64) -> Model {
    Model {
        opsets: vec![OpsetId {
            domain: String::new(),
            version: opset,
        }],
        ..Default::default()
    }
}
fn input(g: &mut Graph, name: &str, dims: Vec<Dim>) -> ValueId {
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
fn batch_input(g: &mut Graph, name: &str, rest: &[usize]) -> ValueId {
    let dims = std::iter::once(Dim::Named("N".into()))
        .chain(rest.iter().map(|&d| Dim::Known(d)))
        .collect();
    input(g, name, dims)
}
fn node(g: &mut Graph, op: Op, inputs: &[Option<ValueId>], out: &str) -> ValueId {
    let name = format!("{}_node", out);
    let n = g.add_node(name, op, inputs.to_vec(), &[out], None);
    g.node(n).output(0).unwrap()
}
fn weight(g: &mut Graph, name: &str, shape: &[usize]) -> ValueId {
    let n = shape.iter().product();
    g.add_initializer(name, Tensor::from_f32(shape.to_vec(), vec![0.1; n]))
}
fn ints(g: &mut Graph, name: &str, v: Vec<i64>) -> ValueId {
    g.add_initializer(name, Tensor::from_i64(vec![v.len()], v))
}
fn shape_of(m: &Model, v: ValueId) -> Option<Vec<usize>> {
    m.graph
        .value(v)
        .ty
        .as_ref()
        .and_then(TensorType::concrete_shape)
}
fn batch(name: &str, shape: &[usize]) -> Vec<(String, Vec<usize>)> {
    vec![(name.to_string(), shape.to_vec())]
}

#[test]
fn conv_pool_net() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[3, 32, 32]);
    let w1 = weight(g, "w1", &[8, 3, 3, 3]);
    let b1 = weight(g, "b1", &[8]);
    let pad1 = ConvAttrs {
        pads: Some(vec![1, 1, 1, 1]),
        ..Default::default()
    };
    let c1 = node(g, Op::Conv(pad1), &[Some(x), Some(w1), Some(b1)], "c1");
    let r1 = node(g, Op::Relu, &[Some(c1)], "r1");
    let pool = PoolAttrs {
        kernel_shape: Some(vec![2, 2]),
        strides: Some(vec![2, 2]),
        ..Default::default()
    };
    let p1 = node(g, Op::MaxPool(pool), &[Some(r1)], "p1");
    let w2 = weight(g, "w2", &[16, 8, 3, 3]);
    let stride2 = ConvAttrs {
        strides: Some(vec![2, 2]),
        ..Default::default()
    };
    let c2 = node(g, Op::Conv(stride2), &[Some(p1), Some(w2)], "c2");
    let ceil = PoolAttrs {
        kernel_shape: Some(vec![3, 3]),
        strides: Some(vec![2, 2]),
        ceil_mode: Some(1),
        ..Default::default()
    };
    let p2 = node(g, Op::AveragePool(ceil), &[Some(c2)], "p2");
    let w3 = weight(g, "w3", &[16, 1, 3, 3]);
    let dw = ConvAttrs {
        group: Some(16),
        auto_pad: Some("SAME_UPPER".into()),
        strides: Some(vec![2, 2]),
        ..Default::default()
    };
    let c3 = node(g, Op::Conv(dw), &[Some(p2), Some(w3)], "c3");
    let gap = node(g, Op::GlobalAveragePool, &[Some(c3)], "gap");
    let flat = node(g, Op::Flatten(AxisAttrs::default()), &[Some(gap)], "flat");
    let wf = weight(g, "wf", &[10, 16]);
    let gemm = GemmAttrs {
        trans_b: Some(1),
        ..Default::default()
    };
    let logits = node(g, Op::Gemm(gemm), &[Some(flat), Some(wf)], "logits");
    g.outputs.push(logits);

    let summary = infer_shapes(&mut m, &batch("x", &[4, 3, 32, 32])).unwrap();
    assert!(summary.unknown.is_empty(), "{:?}", summary.unknown);
    let expect: [(ValueId, &[usize]); 9] = [
        (x, &[4, 3, 32, 32]),
        (c1, &[4, 8, 32, 32]),
        (p1, &[4, 8, 16, 16]),
        (c2, &[4, 16, 7, 7]),
        (p2, &[4, 16, 3, 3]),
        (c3, &[4, 16, 2, 2]),
        (gap, &[4, 16, 1, 1]),
        (flat, &[4, 16]),
        (logits, &[4, 10]),
    ];
    for (v, want) in expect {
        assert_eq!(
            shape_of(&m, v).as_deref(),
            Some(want),
            "{}",
            m.graph.value(v).name
        );
    }
    assert_eq!(m.graph.value(logits).ty.as_ref().unwrap().dtype, DType::F32);
}

#[test]
fn pool_ceil_mode_drops_a_window_in_the_end_padding() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[1, 5, 5]);
    let attrs = PoolAttrs {
        kernel_shape: Some(vec![2, 2]),
        strides: Some(vec![2, 2]),
        pads: Some(vec![1, 1, 1, 1]),
        ceil_mode: Some(1),
        ..Default::default()
    };
    let p = node(g, Op::MaxPool(attrs), &[Some(x)], "p");
    infer_shapes(&mut m, &batch("x", &[2, 1, 5, 5])).unwrap();
    // (5 + 2 - 2) / 2 = 2.5 -> ceil 3 windows, +1 = 4; the 4th starts at 6 >= 5 + 1: dropped.
    assert_eq!(shape_of(&m, p), Some(vec![2, 1, 3, 3]));
}

#[test]
fn conv_transpose_and_matmul_broadcast() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[2, 3, 3]);
    let w = weight(g, "w", &[2, 3, 3, 3]);
    let up = ConvAttrs {
        strides: Some(vec![2, 2]),
        output_padding: Some(vec![1, 1]),
        ..Default::default()
    };
    let y = node(g, Op::ConvTranspose(up), &[Some(x), Some(w)], "y");
    let a = input(
        g,
        "a",
        vec![Dim::Known(2), Dim::Known(1), Dim::Known(3), Dim::Known(4)],
    );
    let b = weight(g, "b", &[5, 4, 6]);
    let mm = node(g, Op::MatMul, &[Some(a), Some(b)], "mm");
    let v = weight(g, "v", &[6]);
    let mv = node(g, Op::MatMul, &[Some(mm), Some(v)], "mv");
    infer_shapes(&mut m, &batch("x", &[1, 2, 3, 3])).unwrap();
    assert_eq!(shape_of(&m, y), Some(vec![1, 3, 8, 8]));
    assert_eq!(shape_of(&m, mm), Some(vec![2, 5, 3, 6]));
    assert_eq!(shape_of(&m, mv), Some(vec![2, 5, 3]));
}

/// x -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape, as torch exports `x.view(x.size(0), -1)`.
pub fn torch_flatten(m: &mut Model) -> (ValueId, ValueId) {
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[8, 4, 4]);
    let relu = node(g, Op::Relu, &[Some(x)], "relu");
    let shape = node(g, Op::Shape(ShapeAttrs::default()), &[Some(relu)], "shape");
    let zero = ConstantAttrs {
        value: Some(std::sync::Arc::new(Tensor::from_i64(vec![], vec![0]))),
        ..Default::default()
    };
    let c0 = node(g, Op::Constant(zero), &[], "c0");
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
    let minus = ints(g, "minus1", vec![-1]);
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
    g.outputs.push(out);
    (spec, out)
}

#[test]
fn pytorch_flatten_pattern() {
    let mut m = model(13);
    let (spec, out) = torch_flatten(&mut m);
    let summary = infer_shapes(&mut m, &batch("x", &[4, 8, 4, 4])).unwrap();
    assert_eq!(shape_of(&m, out), Some(vec![4, 128]));
    assert_eq!(shape_of(&m, spec), Some(vec![2]));
    assert!(summary.constants >= 4, "{summary:?}");
    assert_eq!(m.graph.value(spec).ty.as_ref().unwrap().dtype, DType::I64);
}

#[test]
fn resize_split_slice() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[3, 8, 8]);
    let scales = g.add_initializer("scales", Tensor::from_f32(vec![4], vec![1., 1., 2., 2.]));
    let up = node(
        g,
        Op::Resize(ResizeAttrs::default()),
        &[Some(x), None, Some(scales)],
        "up",
    );
    let sizes = ints(g, "sizes", vec![4, 3, 5, 7]);
    let down = node(
        g,
        Op::Resize(ResizeAttrs::default()),
        &[Some(x), None, None, Some(sizes)],
        "down",
    );
    let n = g.add_node(
        "split",
        Op::Split(SplitAttrs {
            axis: Some(1),
            ..Default::default()
        }),
        vec![Some(x)],
        &["s0", "s1", "s2"],
        None,
    );
    let parts: Vec<ValueId> = g.node(n).outputs.iter().flatten().copied().collect();
    let sp = ints(g, "sp", vec![2, 6]);
    let n2 = g.add_node(
        "split2",
        Op::Split(SplitAttrs {
            axis: Some(-1),
            ..Default::default()
        }),
        vec![Some(x), Some(sp)],
        &["t0", "t1"],
        None,
    );
    let uneven: Vec<ValueId> = g.node(n2).outputs.iter().flatten().copied().collect();
    let starts = ints(g, "starts", vec![-1, 7]);
    let ends = ints(g, "ends", vec![i64::MIN, 0]);
    let axes = ints(g, "axes", vec![3, 2]);
    let steps = ints(g, "steps", vec![-2, -3]);
    let sl = node(
        g,
        Op::Slice(SliceAttrs::default()),
        &[Some(x), Some(starts), Some(ends), Some(axes), Some(steps)],
        "sl",
    );
    infer_shapes(&mut m, &batch("x", &[4, 3, 8, 8])).unwrap();
    assert_eq!(shape_of(&m, up), Some(vec![4, 3, 16, 16]));
    assert_eq!(shape_of(&m, down), Some(vec![4, 3, 5, 7]));
    for p in parts {
        assert_eq!(shape_of(&m, p), Some(vec![4, 1, 8, 8]));
    }
    assert_eq!(shape_of(&m, uneven[1]), Some(vec![4, 3, 8, 6]));
    // axis 3: 7, 5, 3, 1 -> 4; axis 2: 7, 4, 1 (stops before 0) -> 3
    assert_eq!(shape_of(&m, sl), Some(vec![4, 3, 3, 4]));
}

#[test]
fn declared_shapes_are_used_and_checked() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = input(g, "x", vec![Dim::Known(2), Dim::Known(5)]);
    let y = node(g, Op::Relu, &[Some(x)], "y");
    infer_shapes(&mut m, &[]).unwrap();
    assert_eq!(shape_of(&m, y), Some(vec![2, 5]));
    let err = infer_shapes(&mut m.clone(), &batch("x", &[3, 5])).unwrap_err();
    assert!(matches!(err, InferError::InputShape { .. }), "{err}");
    let err = infer_shapes(&mut m, &batch("nope", &[3, 5])).unwrap_err();
    assert!(matches!(err, InferError::NotAnInput { .. }), "{err}");
}

#[test]
fn opaque_outputs_stay_unknown() {
    let mut m = model(13);
    let g = &mut m.graph;
    let x = batch_input(g, "x", &[4]);
    let op = Op::Opaque {
        domain: "com.example".into(),
        op_type: "MyOp".into(),
        attrs: vec![],
    };
    let o = node(g, op.clone(), &[Some(x)], "o");
    // Declared by value_info: the element type only.
    g.value_mut(o).ty = Some(TensorType {
        dtype: DType::F32,
        shape: None,
    });
    let r = node(g, Op::Relu, &[Some(o)], "r");
    let declared = node(g, op, &[Some(x)], "declared");
    g.value_mut(declared).ty = Some(TensorType::known(DType::F32, &[7]));
    let after = node(g, Op::Relu, &[Some(declared)], "after");
    let s = node(g, Op::Shape(ShapeAttrs::default()), &[Some(r)], "s");
    let spec = ints(g, "spec", vec![2, 2]);
    let fixed = node(
        g,
        Op::Reshape(ReshapeAttrs::default()),
        &[Some(r), Some(spec)],
        "fixed",
    );
    let summary = infer_shapes(&mut m, &batch("x", &[2, 4])).unwrap();
    assert_eq!(shape_of(&m, o), None);
    assert_eq!(shape_of(&m, r), None);
    assert_eq!(shape_of(&m, s), None);
    assert_eq!(
        m.graph.value(s).ty.as_ref().map(|t| t.dtype),
        Some(DType::I64)
    );
    assert_eq!(summary.unknown, ["o", "r", "s"]);
    assert_eq!(
        shape_of(&m, after),
        Some(vec![7]),
        "declared opaque outputs are used"
    );
    assert_eq!(
        shape_of(&m, fixed),
        Some(vec![2, 2]),
        "an explicit Reshape needs no input shape"
    );
}

fn contradiction(build: impl FnOnce(&mut Graph, ValueId)) -> InferError {
    let mut m = model(13);
    let x = batch_input(&mut m.graph, "x", &[3, 8, 8]);
    build(&mut m.graph, x);
    infer_shapes(&mut m, &batch("x", &[1, 3, 8, 8])).unwrap_err()
}

#[test]
fn contradictions_name_the_node() {
    let err = contradiction(|g, x| {
        let w = weight(g, "w", &[8, 4, 3, 3]);
        node(
            g,
            Op::Conv(ConvAttrs::default()),
            &[Some(x), Some(w)],
            "conv",
        );
    });
    {
        let InferError::Node {
            node: name,
            op,
            source,
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!((name.as_str(), op.as_str()), ("conv_node", "Conv"));
        assert!(matches!(source, KernelError::Shape(_)), "{err}");
    }
    let err = contradiction(|g, x| {
        let w = weight(g, "w", &[7, 2]);
        node(g, Op::MatMul, &[Some(x), Some(w)], "mm");
    });
    assert!(
        err.to_string().contains("mm_node") && err.to_string().contains("MatMul"),
        "{err}"
    );
    let err = contradiction(|g, x| {
        let b = weight(g, "b", &[5]);
        node(g, Op::Add, &[Some(x), Some(b)], "add");
    });
    assert!(
        matches!(
            err,
            InferError::Node {
                source: KernelError::Broadcast { .. },
                ..
            }
        ),
        "{err}"
    );
    let err = contradiction(|g, x| {
        let spec = ints(g, "spec", vec![5, -1]);
        node(
            g,
            Op::Reshape(ReshapeAttrs::default()),
            &[Some(x), Some(spec)],
            "rs",
        );
    });
    assert!(err.to_string().contains("rs_node"), "{err}");
    let err = contradiction(|g, _| {
        let data = ints(g, "data", vec![1, 2, 3]);
        let idx = ints(g, "idx", vec![3]);
        node(
            g,
            Op::Gather(AxisAttrs::default()),
            &[Some(data), Some(idx)],
            "ga",
        );
    });
    assert!(err.to_string().contains("out of range"), "{err}");
}

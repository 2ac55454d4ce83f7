//! Elementwise, activation, movement and reduction rules against central
//! finite differences (see `fd_harness` for the tolerance), and the loss
//! kernels against finite differences of their own loss output.

use crate::common::{f32_value, Lcg};
use crate::fd_harness::{away, check_op, distinct, ints, rand, scalar_const, In};
use wdq_exec::{run_op, KernelContext, TensorValue};
use wdq_ir::grad_op::Divergence;
use wdq_ir::op::{
    ActivationAttrs, AxesAttrs, AxisAttrs, ClipAttrs, DropoutAttrs, PadAttrs, ReduceAttrs,
    ReshapeAttrs, ResizeAttrs, SliceAttrs, SplitAttrs, TransposeAttrs,
};
use wdq_ir::{GradOp, Op, Tensor};

#[test]
fn binary_ops_with_broadcasting() {
    let mut rng = Lcg(11);
    let pairs = [
        (vec![2, 3, 4], vec![3, 1]),
        (vec![1, 4], vec![3, 1]),
        (vec![], vec![2, 3]),
        (vec![2, 3], vec![2, 3]),
    ];
    for (a, b) in &pairs {
        for op in [Op::Add, Op::Sub, Op::Mul] {
            let what = format!("{} {a:?} {b:?}", op.op_type());
            check_op(&what, op, 13, &[rand(&mut rng, a), rand(&mut rng, b)]);
        }
        let den = away(&mut rng, b, 2.0, &[0.0], 0.5);
        check_op(
            &format!("Div {a:?} {b:?}"),
            Op::Div,
            13,
            &[rand(&mut rng, a), den],
        );
        let base = away(&mut rng, a, 1.0, &[0.0], 0.2);
        let In::Wrt(s, v) = base else { unreachable!() };
        let base = In::Wrt(s, v.iter().map(|x| x.abs() + 0.3).collect());
        check_op(
            &format!("Pow {a:?} {b:?}"),
            Op::Pow,
            13,
            &[base, rand(&mut rng, b)],
        );
        for op in [Op::Max, Op::Min] {
            // Values on a 0.05 grid and the grid shifted by 0.025: no ties.
            let x = distinct(&mut rng, a, 0.1);
            let In::Wrt(s, v) = distinct(&mut rng, b, 0.1) else {
                unreachable!()
            };
            let y = In::Wrt(s, v.iter().map(|v| v + 0.025).collect());
            check_op(&format!("{} {a:?} {b:?}", op.op_type()), op, 13, &[x, y]);
        }
    }
    let cond = Tensor::new(
        wdq_ir::DType::Bool,
        vec![2, 1, 4],
        wdq_ir::TensorData::Bool((0..8).map(|i| i % 3 == 0).collect()),
    )
    .unwrap();
    let inputs = [
        In::Const(cond),
        rand(&mut rng, &[3, 1]),
        rand(&mut rng, &[2, 3, 4]),
    ];
    check_op("Where", Op::Where, 13, &inputs);
}

#[test]
fn activations_away_from_kinks() {
    let mut rng = Lcg(12);
    let shape = [2, 3, 4];
    let act = |alpha, beta| ActivationAttrs {
        alpha,
        beta,
        approximate: None,
    };
    let cases: Vec<(Op, i64, Vec<f32>, f32)> = vec![
        (Op::Relu, 13, vec![0.0], 2.0),
        (Op::LeakyRelu(act(Some(0.1), None)), 13, vec![0.0], 2.0),
        (Op::Sigmoid, 13, vec![], 4.0),
        (Op::Tanh, 13, vec![], 2.0),
        (
            Op::HardSigmoid(act(Some(0.3), Some(0.4))),
            13,
            vec![-4.0 / 3.0, 2.0],
            3.0,
        ),
        (Op::HardSwish, 14, vec![-3.0, 3.0], 5.0),
        (Op::Erf, 13, vec![], 2.0),
        (Op::Gelu(act(None, None)), 20, vec![], 3.0),
        (
            Op::Gelu(ActivationAttrs {
                approximate: Some("tanh".into()),
                ..act(None, None)
            }),
            20,
            vec![],
            3.0,
        ),
        (Op::Exp, 13, vec![], 1.5),
        (Op::Neg, 13, vec![], 1.0),
        (Op::Abs, 13, vec![0.0], 1.0),
        (
            Op::Clip(ClipAttrs {
                min: Some(-0.5),
                max: Some(0.6),
            }),
            6,
            vec![-0.5, 0.6],
            1.0,
        ),
    ];
    for (op, opset, kinks, scale) in cases {
        let x = away(&mut rng, &shape, scale, &kinks, 0.05);
        check_op(&format!("{} opset {opset}", op.op_type()), op, opset, &[x]);
    }
    let x = away(&mut rng, &shape, 1.0, &[-0.5, 0.6], 0.05);
    let clip = Op::Clip(ClipAttrs::default());
    check_op(
        "Clip opset 13",
        clip,
        13,
        &[x, scalar_const(-0.5), scalar_const(0.6)],
    );
    for op in [Op::Log, Op::Sqrt, Op::Reciprocal] {
        let x = away(&mut rng, &shape, 1.0, &[0.0], 0.2);
        let In::Wrt(s, v) = x else { unreachable!() };
        let x = In::Wrt(s, v.iter().map(|x| x.abs() + 0.3).collect());
        let what = op.op_type().to_string();
        check_op(&what, op, 13, &[x]);
    }
    for slope in [vec![3, 1, 1], vec![3], vec![1]] {
        let x = away(&mut rng, &[2, 3, 2, 2], 1.0, &[0.0], 0.05);
        check_op(
            &format!("PRelu slope {slope:?}"),
            Op::PRelu,
            13,
            &[x, rand(&mut rng, &slope)],
        );
    }
}

#[test]
fn shape_and_movement_ops() {
    let mut rng = Lcg(13);
    let x = |rng: &mut Lcg| rand(rng, &[2, 3, 4]);
    check_op(
        "Reshape",
        Op::Reshape(ReshapeAttrs::default()),
        13,
        &[x(&mut rng), ints(&[4, -1])],
    );
    check_op(
        "Flatten",
        Op::Flatten(AxisAttrs { axis: Some(2) }),
        13,
        &[x(&mut rng)],
    );
    let perm = TransposeAttrs {
        perm: Some(vec![2, 0, 1]),
    };
    check_op("Transpose", Op::Transpose(perm), 13, &[x(&mut rng)]);
    check_op(
        "Transpose default",
        Op::Transpose(TransposeAttrs::default()),
        13,
        &[x(&mut rng)],
    );
    let y = rand(&mut rng, &[2, 3, 1, 4]);
    check_op(
        "Squeeze",
        Op::Squeeze(AxesAttrs::default()),
        13,
        &[y, ints(&[2])],
    );
    check_op(
        "Unsqueeze",
        Op::Unsqueeze(AxesAttrs::default()),
        13,
        &[x(&mut rng), ints(&[0, 3])],
    );
    let inputs = [
        x(&mut rng),
        rand(&mut rng, &[2, 1, 4]),
        rand(&mut rng, &[2, 2, 4]),
    ];
    check_op(
        "Concat",
        Op::Concat(AxisAttrs { axis: Some(1) }),
        13,
        &inputs,
    );
    let split = SplitAttrs {
        axis: Some(2),
        ..SplitAttrs::default()
    };
    check_op("Split", Op::Split(split), 13, &[x(&mut rng), ints(&[1, 3])]);
    let slice = [
        x(&mut rng),
        ints(&[3, 0]),
        ints(&[-4, 2]),
        ints(&[2, 1]),
        ints(&[-2, 1]),
    ];
    check_op(
        "Slice negative step",
        Op::Slice(SliceAttrs::default()),
        13,
        &slice,
    );
    for mode in ["constant", "reflect", "edge"] {
        let pad = PadAttrs {
            mode: Some(mode.into()),
            ..PadAttrs::default()
        };
        let inputs = [x(&mut rng), ints(&[0, 1, 2, 0, 1, 1]), scalar_const(0.5)];
        check_op(&format!("Pad {mode}"), Op::Pad(pad), 13, &inputs);
    }
    let idx = In::Const(Tensor::from_i64(vec![2, 2], vec![0, 2, 2, 1]));
    check_op(
        "Gather axis 1",
        Op::Gather(AxisAttrs { axis: Some(1) }),
        13,
        &[x(&mut rng), idx],
    );
    check_op(
        "Expand",
        Op::Expand,
        13,
        &[rand(&mut rng, &[3, 1]), ints(&[2, 3, 4])],
    );
    check_op(
        "Tile",
        Op::Tile,
        13,
        &[rand(&mut rng, &[2, 3]), ints(&[2, 2])],
    );
    let resize = ResizeAttrs {
        mode: Some("nearest".into()),
        ..ResizeAttrs::default()
    };
    let scales = In::Const(Tensor::from_f32(vec![4], vec![1.0, 1.0, 2.0, 1.5]));
    let inputs = [rand(&mut rng, &[1, 2, 3, 4]), In::Absent, scales];
    check_op("Resize nearest", Op::Resize(resize), 13, &inputs);
    check_op("Identity", Op::Identity, 13, &[x(&mut rng)]);
    check_op(
        "Dropout",
        Op::Dropout(DropoutAttrs::default()),
        13,
        &[x(&mut rng)],
    );
}

#[test]
fn reductions() {
    let mut rng = Lcg(14);
    for keep in [0, 1] {
        for (opset, axes) in [(13, Some(vec![1i64, -1])), (13, None), (11, Some(vec![0]))] {
            let attrs = ReduceAttrs {
                keepdims: Some(keep),
                axes: if opset < 13 { axes.clone() } else { None },
                noop_with_empty_axes: None,
            };
            let axes_in = match (&axes, opset >= 13) {
                (Some(a), true) => ints(a),
                _ => In::Absent,
            };
            let mean_attrs = ReduceAttrs {
                axes: axes.clone(),
                ..attrs.clone()
            };
            let what = format!("keepdims {keep} opset {opset} axes {axes:?}");
            let x = rand(&mut rng, &[2, 3, 4]);
            check_op(
                &format!("ReduceSum {what}"),
                Op::ReduceSum(attrs),
                opset,
                &[x, axes_in],
            );
            let x = rand(&mut rng, &[2, 3, 4]);
            check_op(
                &format!("ReduceMean {what}"),
                Op::ReduceMean(mean_attrs),
                opset,
                &[x],
            );
        }
    }
}

/// Central differences of a loss kernel's output 0 against its output 1.
fn check_loss(op: GradOp, z: Vec<f32>, shape: &[usize], target: TensorValue) {
    let run = |z: &[f32]| {
        let zv = f32_value(shape, z.to_vec());
        let out = run_op(
            &Op::Grad(op.clone()),
            KernelContext { opset: 13 },
            &[Some(&zv), Some(&target)],
        )
        .unwrap();
        let loss = out[0]
            .as_ref()
            .unwrap()
            .as_f32()
            .unwrap()
            .iter()
            .next()
            .copied()
            .unwrap();
        (loss as f64, out[1].clone().unwrap())
    };
    let (_, grad) = run(&z);
    let grad = grad.as_f32().unwrap();
    let h = 1e-2f32;
    let mut worst = 0.0f64;
    for i in 0..z.len() {
        let (mut up, mut down) = (z.clone(), z.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (run(&up).0 - run(&down).0) / (2.0 * h as f64);
        worst = worst.max((fd - grad.as_slice().unwrap()[i] as f64).abs());
    }
    let scale = grad.iter().fold(1e-2f64, |m, v| m.max(v.abs() as f64));
    assert!(worst / scale <= 1e-2, "{op:?}: {:.2e}", worst / scale);
}

#[test]
fn losses_match_their_finite_differences() {
    let mut rng = Lcg(15);
    let labels = TensorValue::I64(ndarray::ArrayD::from_shape_vec(vec![3], vec![0, 4, 2]).unwrap());
    check_loss(
        GradOp::SoftmaxCrossEntropy,
        rng.vec(15),
        &[3, 5],
        labels.clone(),
    );
    // A convolutional head's logits, [N, C, 1, 1].
    check_loss(
        GradOp::SoftmaxCrossEntropy,
        rng.vec(15),
        &[3, 5, 1, 1],
        labels,
    );
    let teacher = f32_value(&[3, 5], rng.vec(15));
    check_loss(
        GradOp::DistillLoss(Divergence::KlSoftmax),
        rng.vec(15),
        &[3, 5],
        teacher.clone(),
    );
    check_loss(
        GradOp::DistillLoss(Divergence::MeanSquare),
        rng.vec(15),
        &[3, 5],
        teacher,
    );
}

/// Split's outputs reach the loss by two paths (swapped by a Concat), and
/// Reshape reads its target from a Shape subgraph of another value: the
/// Split gradient adds both scatters, the shape math stays constant.
#[test]
fn multi_output_split_and_shape_subgraph() {
    use wdq_ir::op::ShapeAttrs;
    use wdq_ir::{DType, Graph, Model, OpsetId, TensorType, ValueDef};
    let mut rng = Lcg(16);
    let mut g = Graph::default();
    let x = g.add_value(
        "x",
        Some(TensorType::known(DType::F32, &[2, 3, 2])),
        ValueDef::Input,
    );
    let z = g.add_value(
        "z",
        Some(TensorType::known(DType::F32, &[2, 6])),
        ValueDef::Input,
    );
    g.inputs.extend([x, z]);
    let sizes = g.add_initializer("sizes", Tensor::from_i64(vec![2], vec![1, 2]));
    let split = SplitAttrs {
        axis: Some(1),
        ..SplitAttrs::default()
    };
    let s = g.add_node(
        "split",
        Op::Split(split),
        vec![Some(x), Some(sizes)],
        &["a", "b"],
        None,
    );
    let (a, b) = (g.node(s).output(0).unwrap(), g.node(s).output(1).unwrap());
    let c = g.add_node(
        "cat",
        Op::Concat(AxisAttrs { axis: Some(1) }),
        vec![Some(b), Some(a)],
        &["c"],
        None,
    );
    let c = g.node(c).output(0).unwrap();
    let sh = g.add_node(
        "shape",
        Op::Shape(ShapeAttrs::default()),
        vec![Some(z)],
        &["zs"],
        None,
    );
    let sh = g.node(sh).output(0).unwrap();
    let r = g.add_node(
        "reshape",
        Op::Reshape(ReshapeAttrs::default()),
        vec![Some(c), Some(sh)],
        &["r"],
        None,
    );
    let r = g.node(r).output(0).unwrap();
    let m = g.add_node("mul", Op::Mul, vec![Some(r), Some(z)], &["y"], None);
    g.outputs.push(g.node(m).output(0).unwrap());
    let model = Model {
        opsets: vec![OpsetId {
            domain: String::new(),
            version: 13,
        }],
        graph: g,
        ..Model::default()
    };
    let feeds = vec![
        ("x".to_string(), f32_value(&[2, 3, 2], rng.vec(12))),
        ("z".to_string(), f32_value(&[2, 6], rng.vec(12))),
    ];
    crate::fd_harness::check("Split + Concat + Shape/Reshape", &model, &feeds, 1e-2);
}

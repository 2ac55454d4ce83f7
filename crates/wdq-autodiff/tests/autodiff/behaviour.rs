//! Behaviour of the training step beyond gradient values: determinism
//! across thread counts, the SGD update arithmetic, and the errors for
//! graphs that cannot be differentiated.

use crate::common::{fixture, Lcg};
use ndarray::ArrayD;
use wdq_autodiff::{training_step, AutodiffError, StepOptions};
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_ir::op::GemmAttrs;
use wdq_ir::{DType, Graph, Model, Op, OpsetId, Tensor, TensorType, ValueDef};

fn feeds(batch: usize, shape: &[usize], seed: u64) -> (TensorValue, TensorValue) {
    let mut rng = Lcg(seed);
    let mut dims = vec![batch];
    dims.extend_from_slice(shape);
    let x = ArrayD::from_shape_vec(dims.clone(), rng.vec(dims.iter().product())).unwrap();
    let labels: Vec<i64> = (0..batch).map(|i| (i * 7 % 10) as i64).collect();
    (
        TensorValue::F32(x),
        TensorValue::I64(ArrayD::from_shape_vec(vec![batch], labels).unwrap()),
    )
}

fn run_step(
    step: &wdq_autodiff::TrainingStep,
    x: &TensorValue,
    y: &TensorValue,
    threads: usize,
) -> Vec<TensorValue> {
    let plan = Plan::new(&step.model).unwrap();
    let lr = TensorValue::F32(ArrayD::from_elem(vec![], 0.1f32));
    let inputs = vec![
        (step.data_inputs[0].as_str(), x.clone()),
        (step.target_input.as_str(), y.clone()),
        (step.learning_rate_input.as_str(), lr),
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| plan.run(&inputs).unwrap())
}

#[test]
fn same_bits_with_one_two_and_four_threads() {
    for (name, shape) in [
        ("models/resnet_bn.onnx", vec![3, 16, 16]),
        ("models/mobilenet_se.onnx", vec![3, 16, 16]),
        ("models/lenet.onnx", vec![1, 28, 28]),
    ] {
        let model = wdq_onnx::load_model(&fixture(name)).unwrap();
        let options = StepOptions {
            train_batchnorm_affine: true,
            momentum: 0.9,
            ..StepOptions::default()
        };
        let step = training_step(&model, &options).unwrap();
        let (x, y) = feeds(37, &shape, 3);
        let one = run_step(&step, &x, &y, 1);
        for threads in [2, 4] {
            let many = run_step(&step, &x, &y, threads);
            for (a, b) in one.iter().zip(&many) {
                let (a, b) = (a.as_f32().unwrap(), b.as_f32().unwrap());
                assert!(
                    a.iter()
                        .zip(b.iter())
                        .all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{name}: {threads} threads changed the bits"
                );
            }
        }
    }
}

#[test]
fn update_is_sgd_with_momentum_and_decay() {
    let model = wdq_onnx::load_model(&fixture("models/mlp.onnx")).unwrap();
    let options = StepOptions {
        momentum: 0.5,
        weight_decay: 0.1,
        ..StepOptions::default()
    };
    let step = training_step(&model, &options).unwrap();
    let plan = Plan::new(&step.model).unwrap();
    let (x, y) = feeds(4, &[64], 9);
    let p = &step.params[0];
    let w0 = {
        let t =
            wdq_ir::Graph::resolve_const(&model.graph, model.graph.value_by_name(&p.name).unwrap());
        TensorValue::from_tensor(&t.unwrap().1).unwrap()
    };
    let v0 = TensorValue::F32(ArrayD::from_elem(w0.shape().to_vec(), 0.25f32));
    let lr = TensorValue::F32(ArrayD::from_elem(vec![], 0.1f32));
    let vin = p.velocity_input.as_deref().unwrap();
    let inputs = vec![
        ("input", x),
        (step.target_input.as_str(), y),
        (step.learning_rate_input.as_str(), lr),
        (vin, v0),
    ];
    let out = plan.run(&inputs).unwrap();
    let names = plan.output_names();
    let get = |n: &str| {
        out[names.iter().position(|x| *x == n).unwrap()]
            .as_f32()
            .unwrap()
            .clone()
    };
    let (g, v1, w1) = (
        get(&p.gradient),
        get(p.velocity_output.as_deref().unwrap()),
        get(&p.updated),
    );
    let w0 = w0.as_f32().unwrap();
    for i in 0..g.len() {
        let (g, w, v, w_new) = (
            g.as_slice().unwrap()[i],
            w0.as_slice().unwrap()[i],
            v1.as_slice().unwrap()[i],
            w1.as_slice().unwrap()[i],
        );
        let want_v = 0.5 * 0.25 + (g + 0.1 * w);
        assert!((v - want_v).abs() <= 1e-6 * (1.0 + want_v.abs()));
        assert!((w_new - (w - 0.1 * want_v)).abs() <= 1e-6 * (1.0 + w.abs()));
    }
}

/// `x -> Gemm(W) -> Floor -> Gemm(W2)`: W's gradient must cross Floor.
#[test]
fn non_differentiable_op_on_the_path_is_named() {
    for (op, label) in [
        (Op::Floor, "Floor"),
        (
            Op::Opaque {
                domain: "com.example".into(),
                op_type: "MyOp".into(),
                attrs: vec![],
            },
            "MyOp",
        ),
    ] {
        let mut g = Graph::default();
        let x = g.add_value(
            "x",
            Some(TensorType::known(DType::F32, &[2, 3])),
            ValueDef::Input,
        );
        g.inputs.push(x);
        let w = g.add_initializer("w", Tensor::from_f32(vec![3, 3], vec![0.5; 9]));
        let w2 = g.add_initializer("w2", Tensor::from_f32(vec![3, 2], vec![0.5; 6]));
        let a = g.add_node(
            "fc1",
            Op::Gemm(GemmAttrs::default()),
            vec![Some(x), Some(w)],
            &["a"],
            None,
        );
        let a = g.node(a).output(0).unwrap();
        let f = g.add_node("odd", op, vec![Some(a)], &["f"], None);
        let f = g.node(f).output(0).unwrap();
        let y = g.add_node(
            "fc2",
            Op::Gemm(GemmAttrs::default()),
            vec![Some(f), Some(w2)],
            &["y"],
            None,
        );
        let y = g.node(y).output(0).unwrap();
        g.outputs.push(y);
        let model = Model {
            opsets: vec![OpsetId {
                domain: String::new(),
                version: 13,
            }],
            graph: g,
            ..Model::default()
        };
        match training_step(&model, &StepOptions::default()) {
            Err(AutodiffError::NonDifferentiable { node, op, .. }) => {
                assert_eq!((node.as_str(), op.as_str()), ("odd", label));
            }
            other => panic!("expected a NonDifferentiable error, got {other:?}"),
        }
    }
}

/// Shape math on an activation carries no gradient: torch-style
/// `Shape -> Gather -> ... -> Reshape` is treated as constant.
#[test]
fn shape_subgraphs_are_constants() {
    let model = wdq_onnx::load_model(&fixture("models/torch_style.onnx")).unwrap();
    let step = training_step(&model, &StepOptions::default()).unwrap();
    let dump = wdq_ir::dump::dump_model(&step.model);
    assert!(!dump.contains("IndexScatterGrad[op=\"Gather\""), "{dump}");
}

/// mlp with a final Softmax over the classes.
fn mlp_with_softmax() -> Model {
    let mut model = wdq_onnx::load_model(&fixture("models/mlp.onnx")).unwrap();
    let g = &mut model.graph;
    let logits = g.outputs[0];
    let ty = g.value(logits).ty.clone();
    let sm = g.add_node(
        "softmax",
        Op::Softmax(wdq_ir::op::AxisAttrs { axis: Some(1) }),
        vec![Some(logits)],
        &["probs"],
        None,
    );
    let probs = g.node(sm).output(0).unwrap();
    g.value_mut(probs).ty = ty;
    g.outputs = vec![probs];
    model
}

#[test]
fn losses_read_the_logits_behind_a_final_softmax() {
    let plain = wdq_onnx::load_model(&fixture("models/mlp.onnx")).unwrap();
    let with_softmax = mlp_with_softmax();
    let (x, y) = feeds(6, &[64], 21);
    let grads = |model: &Model| {
        let step = training_step(model, &StepOptions::default()).unwrap();
        let out = run_step(&step, &x, &y, 1);
        let plan = Plan::new(&step.model).unwrap();
        let names: Vec<String> = plan.output_names().iter().map(|s| s.to_string()).collect();
        step.params
            .iter()
            .map(|p| out[names.iter().position(|n| *n == p.gradient).unwrap()].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(grads(&plain), grads(&with_softmax));
    // KL against the model's own output: zero loss, zero gradient.
    for model in [plain, with_softmax] {
        let options = StepOptions {
            loss: wdq_autodiff::Loss::Distill {
                kind: wdq_autodiff::DistillKind::Kl,
            },
            ..StepOptions::default()
        };
        let step = training_step(&model, &options).unwrap();
        let own = Plan::new(&model)
            .unwrap()
            .run(&[("input", x.clone())])
            .unwrap()
            .remove(0);
        let plan = Plan::new(&step.model).unwrap();
        let lr = TensorValue::F32(ArrayD::from_elem(vec![], 0.1f32));
        let out = plan
            .run(&[
                ("input", x.clone()),
                (step.target_input.as_str(), own),
                (step.learning_rate_input.as_str(), lr),
            ])
            .unwrap();
        let loss = out[0].as_f32().unwrap().iter().next().copied().unwrap();
        assert!(loss.abs() < 1e-6, "KL of a model with itself: {loss}");
        let names = plan.output_names();
        let g = &out[names
            .iter()
            .position(|n| *n == step.params[0].gradient)
            .unwrap()];
        assert!(g.as_f32().unwrap().iter().all(|v| v.abs() < 1e-6));
    }
}

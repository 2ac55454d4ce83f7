//! insta snapshots of training-step graphs (the canonical IR dump), and
//! smoke runs of the steps of the other fixture models (their forward part
//! must reproduce the model's output, fake-quant included).

use crate::common::fixture;
use wdq_autodiff::{training_step, Loss, StepOptions};
use wdq_exec::plan::Plan;

fn step_dump(model: &str, options: &StepOptions) -> String {
    let model = wdq_onnx::load_model(&fixture(model)).unwrap();
    let step = training_step(&model, options).unwrap();
    let mut text = wdq_ir::dump::dump_model(&step.model);
    text.push_str("\nparams:\n");
    for p in &step.params {
        text.push_str(&format!(
            "  {} layer={:?} bias={} input={} updated={} gradient={} velocity={:?}/{:?}\n",
            p.name,
            p.layer.map(|n| step.model.graph.node_label(n)),
            p.is_bias,
            p.input,
            p.updated,
            p.gradient,
            p.velocity_input,
            p.velocity_output
        ));
    }
    text.push_str(&format!(
        "data={:?} target={} lr={} loss={}\n",
        step.data_inputs, step.target_input, step.learning_rate_input, step.loss_output
    ));
    text
}

#[test]
fn mlp_training_step() {
    insta::assert_snapshot!(step_dump("models/mlp.onnx", &StepOptions::default()));
}

#[test]
fn lenet_training_step_with_momentum_and_decay() {
    let options = StepOptions {
        momentum: 0.9,
        weight_decay: 5e-4,
        ..StepOptions::default()
    };
    insta::assert_snapshot!(step_dump("models/lenet.onnx", &options));
}

#[test]
fn qdq_int8_training_step() {
    insta::assert_snapshot!(step_dump("models/qdq_int8.onnx", &StepOptions::default()));
}

#[test]
fn distillation_step() {
    let options = StepOptions {
        loss: Loss::Distill {
            kind: wdq_autodiff::DistillKind::Auto,
        },
        ..StepOptions::default()
    };
    insta::assert_snapshot!(step_dump("models/mlp.onnx", &options));
}

/// Every fixture model that wdq-exec runs gets a training step that runs.
#[test]
fn fixture_models_build_and_run() {
    for name in [
        "torch_style",
        "paddle_style",
        "qdq_int8",
        "external_data",
        "int4_weights",
    ] {
        let path = fixture(&format!("models/{name}.onnx"));
        let model = wdq_onnx::load_model(&path).unwrap();
        let options = StepOptions {
            train_batchnorm_affine: true,
            momentum: 0.9,
            ..StepOptions::default()
        };
        let step = training_step(&model, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let plan = Plan::new(&step.model).unwrap_or_else(|e| panic!("{name}: {e}"));
        let inputs = crate::common::read_npz(&fixture(&format!("models/{name}.inputs.npz")));
        let mut feeds: Vec<(&str, wdq_exec::TensorValue)> = Vec::new();
        let mut batch = 0;
        for (key, a) in &inputs {
            let v = match a {
                crate::common::Array::F32(a) => wdq_exec::TensorValue::F32(a.clone()),
                crate::common::Array::F64(a) => wdq_exec::TensorValue::F32(a.mapv(|x| x as f32)),
                crate::common::Array::I64(a) => wdq_exec::TensorValue::I64(a.clone()),
            };
            if step.data_inputs.contains(key) {
                batch = v.shape().first().copied().unwrap_or(1);
                feeds.push((key.as_str(), v));
            }
        }
        let labels =
            ndarray::ArrayD::from_shape_vec(vec![batch], (0..batch as i64).collect()).unwrap();
        feeds.push((
            step.target_input.as_str(),
            wdq_exec::TensorValue::I64(labels),
        ));
        let lr = ndarray::ArrayD::from_elem(vec![], 0.01f32);
        feeds.push((
            step.learning_rate_input.as_str(),
            wdq_exec::TensorValue::F32(lr),
        ));
        let out = plan.run(&feeds).unwrap_or_else(|e| panic!("{name}: {e}"));
        let loss = out[0].as_f32().unwrap().iter().next().copied().unwrap();
        // The step's forward (fake-quant included) computes the model's output.
        let data: Vec<(&str, wdq_exec::TensorValue)> = feeds
            .iter()
            .filter(|(n, _)| step.data_inputs.iter().any(|d| d == n))
            .map(|(n, v)| (*n, v.clone()))
            .collect();
        let want = Plan::new(&model).unwrap().run(&data).unwrap().remove(0);
        let (got, want) = (out[1].as_f32().unwrap(), want.as_f32().unwrap());
        let diff = got
            .iter()
            .zip(want.iter())
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff <= 1e-5, "{name}: forward differs by {diff}");
        assert!(loss.is_finite() && loss > 0.0, "{name}: loss {loss}");
        println!("{name}: {} params, loss {loss}", step.params.len());
    }
}

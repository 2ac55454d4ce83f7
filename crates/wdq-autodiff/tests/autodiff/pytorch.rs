//! Whole-model weight gradients against PyTorch (float64) references in
//! `fixtures/grads/`: the training step is run with learning rate 0 and its
//! gradient outputs compared per parameter with
//! `max |ours - torch| / max |torch| <= 1e-4`.

use crate::common::{fixture, read_npz, Array};
use wdq_autodiff::{training_step, Loss, StepOptions};
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;

/// Runs one step with lr 0 and returns (loss, worst relative error, report).
fn compare(model_path: &str, grads: &str) -> (f64, f64, String) {
    let model = wdq_onnx::load_model(&fixture(model_path)).unwrap();
    let options = StepOptions {
        loss: Loss::CrossEntropy,
        train_bias: true,
        train_batchnorm_affine: true,
        momentum: 0.0,
        weight_decay: 0.0,
    };
    let step = training_step(&model, &options).unwrap();
    let plan = Plan::new(&step.model).unwrap();
    let refs = read_npz(&fixture(grads));
    let get = |k: &str| refs.iter().find(|(n, _)| n == k).map(|(_, a)| a);
    let Some(Array::F32(input)) = get("input") else {
        panic!("no input")
    };
    let Some(Array::I64(labels)) = get("labels") else {
        panic!("no labels")
    };
    let lr = TensorValue::F32(ndarray::ArrayD::from_elem(vec![], 0.0f32));
    let feeds = vec![
        (
            step.data_inputs[0].as_str(),
            TensorValue::F32(input.clone()),
        ),
        (step.target_input.as_str(), TensorValue::I64(labels.clone())),
        (step.learning_rate_input.as_str(), lr),
    ];
    let outputs = plan.run(&feeds).unwrap();
    let names = plan.output_names();
    let out = |n: &str| &outputs[names.iter().position(|x| *x == n).unwrap()];
    let loss = out(&step.loss_output)
        .as_f32()
        .unwrap()
        .iter()
        .next()
        .copied()
        .unwrap() as f64;
    let Some(Array::F64(want_loss)) = get("loss") else {
        panic!("no loss")
    };
    let want_loss = want_loss.iter().next().copied().unwrap();
    let mut worst = ((loss - want_loss) / want_loss.abs().max(1e-12)).abs();
    let mut report = format!("loss {loss:.9} vs {want_loss:.9}\n");
    for p in &step.params {
        let Some(Array::F64(want)) = get(&format!("grad:{}", p.name)) else {
            panic!("no reference for {}", p.name)
        };
        let got = out(&p.gradient).as_f32().unwrap();
        assert_eq!(got.shape(), want.shape(), "{}", p.name);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = got
            .iter()
            .zip(want.iter())
            .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b).abs()));
        let rel = diff / scale.max(1e-30);
        report.push_str(&format!(
            "{:<28} rel {rel:.2e} (max |g| {scale:.2e})\n",
            p.name
        ));
        worst = worst.max(rel);
    }
    (loss, worst, report)
}

fn check(model_path: &str, grads: &str) {
    let (_, worst, report) = compare(model_path, grads);
    println!("{model_path}\n{report}worst {worst:.2e}");
    assert!(
        worst <= 1e-4,
        "{model_path}: worst relative error {worst:.2e}\n{report}"
    );
}

#[test]
fn lenet_matches_pytorch() {
    check("models/lenet.onnx", "grads/lenet.npz");
}

#[test]
fn mlp_matches_pytorch() {
    check("models/mlp.onnx", "grads/mlp.npz");
}

#[test]
fn resnet_bn_matches_pytorch() {
    check("models/resnet_bn.onnx", "grads/resnet_bn.npz");
}

#[test]
fn mobilenet_se_matches_pytorch() {
    check("models/mobilenet_se.onnx", "grads/mobilenet_se.npz");
}

#[test]
fn digits_cnn_matches_pytorch() {
    check("digits/digits_cnn.onnx", "grads/digits_cnn.npz");
}

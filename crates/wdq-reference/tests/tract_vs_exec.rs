//! Every fixture model runs in tract (the independent reference) and in
//! wdq-exec on the same inputs; both must match onnxruntime's committed
//! outputs and each other within relative 1e-4.

use ndarray::{ArrayD, IxDyn, OwnedRepr};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::path::{Path, PathBuf};
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_reference::{run_tract, RefArray};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_npz(path: &Path) -> Vec<(String, RefArray)> {
    let mut npz = NpzReader::new(File::open(path).unwrap()).unwrap();
    let mut names = npz.names().unwrap();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let array = match npz.by_name::<OwnedRepr<f32>, IxDyn>(&name) {
                Ok(a) => RefArray::F32(a),
                Err(_) => RefArray::I64(npz.by_name::<OwnedRepr<i64>, IxDyn>(&name).unwrap()),
            };
            (name, array)
        })
        .collect()
}

/// Largest |a - b| / (1 + |b|) over the elements: a relative error that
/// stays meaningful near zero.
fn max_rel_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0.0, f32::max)
}

fn as_f32(a: &RefArray) -> &ArrayD<f32> {
    match a {
        RefArray::F32(a) => a,
        RefArray::I64(_) => panic!("expected an f32 output"),
    }
}

fn check_model(model_path: &Path, inputs_path: &Path, expected_path: &Path) -> (f32, f32) {
    let model = wdq_onnx::load_model(model_path).unwrap();
    let graph = &model.graph;
    let input_names: Vec<String> = graph
        .inputs
        .iter()
        .filter(|v| matches!(graph.value(**v).def, wdq_ir::ValueDef::Input))
        .map(|v| graph.value(*v).name.clone())
        .collect();
    let given = read_npz(inputs_path);
    let ordered: Vec<RefArray> = input_names
        .iter()
        .map(|n| given.iter().find(|(k, _)| k == n).unwrap().1.clone())
        .collect();
    let expected = read_npz(expected_path);

    let tract_out = run_tract(model_path, &ordered).unwrap();
    let plan = Plan::new(&model).unwrap();
    let feeds: Vec<(&str, TensorValue)> = input_names
        .iter()
        .zip(&ordered)
        .map(|(n, a)| {
            let v = match a {
                RefArray::F32(a) => TensorValue::F32(a.clone()),
                RefArray::I64(a) => TensorValue::I64(a.clone()),
            };
            (n.as_str(), v)
        })
        .collect();
    let ours = plan.run(&feeds).unwrap();
    let (mut worst_tract, mut worst_ours) = (0f32, 0f32);
    for (i, name) in plan.output_names().iter().enumerate() {
        let want = as_f32(&expected.iter().find(|(k, _)| k == name).unwrap().1);
        let ours_i = ours[i].as_f32().unwrap();
        let tract_i = as_f32(&tract_out[i]);
        worst_tract = worst_tract.max(max_rel_diff(tract_i, want));
        worst_ours = worst_ours
            .max(max_rel_diff(ours_i, want))
            .max(max_rel_diff(ours_i, tract_i));
    }
    (worst_tract, worst_ours)
}

/// Fixtures tract-onnx 0.23 cannot run, with why (the conformance step
/// checks them against onnxruntime).
const TRACT_CANNOT: &[(&str, &str)] = &[
    ("int4_weights", "tract cannot load INT4 tensors"),
    (
        "recurrent_mix",
        "tract's LSTM op panics on a symbolic batch dimension (UndeterminedSymbol)",
    ),
];

#[test]
fn fixtures_agree_in_tract_wdq_exec_and_onnxruntime() {
    let dir = root().join("fixtures/models");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for inputs in entries {
        let file = inputs.file_name().unwrap().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".inputs.npz") else {
            continue;
        };
        if let Some((_, why)) = TRACT_CANNOT.iter().find(|(n, _)| *n == name) {
            println!("{name}: not run in tract: {why}; onnxruntime checks it in CI");
            continue;
        }
        let (tract, ours) = check_model(
            &dir.join(format!("{name}.onnx")),
            &inputs,
            &dir.join(format!("{name}.expected.npz")),
        );
        println!("{name}: max rel diff vs onnxruntime: tract {tract:.2e}, wdq-exec {ours:.2e}");
        assert!(
            tract < 1e-4,
            "{name}: tract differs from onnxruntime by {tract}"
        );
        assert!(
            ours < 1e-4,
            "{name}: wdq-exec differs from onnxruntime/tract by {ours}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} fixture models found");
}

#[test]
fn digits_classifier_predictions_match_tract() {
    let dir = root().join("fixtures/digits");
    let model_path = dir.join("digits_cnn.onnx");
    let val = read_npz(&dir.join("val.npz"));
    let input = val.iter().find(|(k, _)| k == "input").unwrap().1.clone();
    let tract = run_tract(&model_path, std::slice::from_ref(&input)).unwrap();
    let model = wdq_onnx::load_model(&model_path).unwrap();
    let plan = Plan::new(&model).unwrap();
    let RefArray::F32(x) = input else {
        panic!("f32 input")
    };
    let ours = plan.run(&[("input", TensorValue::F32(x))]).unwrap();
    let diff = max_rel_diff(ours[0].as_f32().unwrap(), as_f32(&tract[0]));
    println!("digits val logits: max rel diff wdq-exec vs tract {diff:.2e}");
    assert!(diff < 1e-4);
}

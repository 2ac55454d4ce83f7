//! The main command's output with 4-bit weights in int8 containers (for
//! runtimes without INT4) runs in tract, the independent runtime, with the
//! same predictions as wdq-exec computed for the report.

use onnx_wdq::data::{DataFile, Dataset};
use onnx_wdq::quantize::{quantize, QuantizeOptions};
use std::path::Path;
use wdq_lower::Int4Storage;
use wdq_reference::{run_tract, RefArray};
use wdq_train::{Quiet, TrainOptions};

#[test]
fn int8_container_model_agrees_in_tract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/digits");
    let model = wdq_onnx::load_model(&root.join("digits_cnn.onnx")).unwrap();
    let names = vec!["input".to_string()];
    let train = Dataset::load(&root.join("train.npz"), &names).unwrap();
    let val = Dataset::load(&root.join("val.npz"), &names).unwrap();
    let mut options = QuantizeOptions {
        train: TrainOptions {
            cycles: 2,
            ..TrainOptions::default()
        },
        ..QuantizeOptions::default()
    };
    options.lower.int4_storage = Int4Storage::Int8;
    let (quantized, report) = quantize(&model, &train, &val, &options, &mut Quiet).unwrap();
    assert!(
        report.low_bit_layers > 0,
        "nothing went to 4 bits: {report:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digits_int8.onnx");
    wdq_onnx::save_model(&quantized, &path).unwrap();
    let wdq_exec::TensorValue::F32(x) = &val.inputs[0].1 else {
        panic!("f32 input")
    };
    let tract = run_tract(&path, &[RefArray::F32(x.clone())]).unwrap();
    let RefArray::F32(logits) = &tract[0] else {
        panic!("f32 logits")
    };
    let predicted = onnx_wdq::evaluate::argmax_rows(logits);
    let labels = val.labels.as_ref().unwrap();
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    let tract_top1 = 100.0 * correct as f64 / labels.len() as f64;
    println!(
        "tract top-1 {tract_top1:.3}%, report {:.3}%",
        report.final_accuracy
    );
    assert!((tract_top1 - report.final_accuracy).abs() <= 100.0 / labels.len() as f64 + 1e-9);
}

//! Fine-tuning the bundled digits classifier: drift statistics are
//! produced for every weighted layer, are bit-identical across thread
//! counts, and training that diverges is stopped.

use ndarray::{IxDyn, OwnedRepr};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::path::Path;
use wdq_exec::TensorValue;
use wdq_train::{fine_tune, Dataset, Quiet, TrainError, TrainOptions, TrainReport};

fn digits() -> (wdq_ir::Model, Vec<(String, TensorValue)>, Vec<i64>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/digits");
    let model = wdq_onnx::load_model(&root.join("digits_cnn.onnx")).unwrap();
    let mut npz = NpzReader::new(File::open(root.join("train.npz")).unwrap()).unwrap();
    let x = npz.by_name::<OwnedRepr<f32>, IxDyn>("input").unwrap();
    let labels = npz.by_name::<OwnedRepr<i64>, IxDyn>("labels").unwrap();
    let n = 256;
    let x = x
        .slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..n))
        .to_owned();
    let labels: Vec<i64> = labels.iter().take(n).copied().collect();
    (
        model,
        vec![("input".to_string(), TensorValue::F32(x))],
        labels,
    )
}

fn run(threads: usize, options: &TrainOptions) -> Result<TrainReport, TrainError> {
    let (model, inputs, labels) = digits();
    let data = Dataset::samples_first(inputs, Some(labels));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| fine_tune(&model, &data, options, &mut Quiet))
}

#[test]
fn drift_is_measured_per_layer_and_cycle_and_is_thread_count_independent() {
    let options = TrainOptions {
        cycles: 3,
        learning_rate: 0.05,
        batch_size: 32,
        seed: 7,
        ..TrainOptions::default()
    };
    let one = run(1, &options).unwrap();
    let two = run(2, &options).unwrap();
    assert_eq!(one.layers.len(), 5);
    assert_eq!(one.steps_per_cycle, 8);
    for (node, layer) in one.layers.iter() {
        assert_eq!(layer.cycles.len(), 3);
        assert!(
            layer.cycles.iter().all(|c| c.mean_square > 0.0),
            "{} did not move",
            digits().0.graph.node_label(*node)
        );
        // Drift accumulates: the distance from W0 grows over cycles here.
        assert!(layer.cycles[2].mean_square >= layer.cycles[0].mean_square);
    }
    let bits = |r: &TrainReport| -> Vec<u64> {
        r.layers
            .iter()
            .flat_map(|(_, l)| l.cycles.iter().map(|c| c.mean_square.to_bits()))
            .collect()
    };
    assert_eq!(
        bits(&one),
        bits(&two),
        "statistics differ between 1 and 2 threads"
    );
    assert_eq!(one.loss_per_cycle, two.loss_per_cycle);
}

#[test]
fn divergence_stops_the_run_with_advice() {
    let options = TrainOptions {
        cycles: 2,
        learning_rate: 1e6,
        ..TrainOptions::default()
    };
    match run(1, &options) {
        Err(TrainError::Diverged { .. }) => {}
        other => panic!("expected divergence, got {other:?}"),
    }
}

#[test]
fn a_model_that_overflows_before_any_update_is_not_called_divergence() {
    let (mut model, inputs, labels) = digits();
    // Every weight of the first layer at 3e38: the forward pass overflows
    // float32 on the first batch, whatever the learning rate.
    let graph = &mut model.graph;
    let (conv, _) = graph
        .live_nodes()
        .find(|(_, n)| n.op.op_type() == "Conv")
        .unwrap();
    let weight = graph.node(conv).inputs[1].unwrap();
    let (tensor, _) = graph.resolve_const(weight).unwrap();
    let name = graph.value(tensor).name.clone();
    let wdq_ir::ValueDef::Initializer(t) = &mut graph.value_mut(tensor).def else {
        panic!("the first Conv's weight is an initializer")
    };
    let shape = t.shape().to_vec();
    let n = t.len();
    *t = std::sync::Arc::new(wdq_ir::Tensor::from_f32(shape, vec![3e38; n]));
    let data = Dataset::samples_first(inputs, Some(labels));
    match fine_tune(&model, &data, &TrainOptions::default(), &mut Quiet) {
        Err(TrainError::OverflowAtStart {
            largest,
            largest_in,
            ..
        }) => {
            assert_eq!(largest, 3e38);
            assert_eq!(largest_in, name);
        }
        other => panic!("expected an overflow at the start, got {other:?}"),
    }
}

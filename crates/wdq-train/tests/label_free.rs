//! Fine-tuning without labels ranks the layers as labelled fine-tuning
//! does: Spearman's correlation of the drift statistics, label-free vs
//! labelled, on the same samples, cycles, learning rate and seed, on the
//! committed classifiers (the digits CNN on its validation split, where it
//! is 98% right, and the PyTorch-trained MNIST CNN). The floors are the
//! figures measured here, rounded down (README: "Without labels").

use ndarray::{IxDyn, OwnedRepr};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::path::Path;
use wdq_exec::TensorValue;
use wdq_plan::stats::spearman;
use wdq_train::{fine_tune, over_cycles, Dataset, LabelFree, Quiet, Statistic, TrainOptions};

struct Case {
    model: wdq_ir::Model,
    inputs: Vec<(String, TensorValue)>,
    labels: Vec<i64>,
}

fn case(model: &str, data: &str, n: usize) -> Case {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let model = wdq_onnx::load_model(&root.join(model)).unwrap();
    let mut npz = NpzReader::new(File::open(root.join(data)).unwrap()).unwrap();
    let x = npz.by_name::<OwnedRepr<f32>, IxDyn>("input").unwrap();
    let labels = npz.by_name::<OwnedRepr<i64>, IxDyn>("labels").unwrap();
    let n = n.min(labels.len());
    let x = x
        .slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..n))
        .to_owned();
    Case {
        model,
        inputs: vec![("input".to_string(), TensorValue::F32(x))],
        labels: labels.iter().take(n).copied().collect(),
    }
}

/// S per layer (graph order) and the first cycle's mean loss.
fn drift(c: &Case, labelled: bool, label_free: LabelFree) -> (Vec<f64>, f64) {
    let options = TrainOptions {
        cycles: 2,
        label_free,
        ..TrainOptions::default()
    };
    let data = Dataset::samples_first(c.inputs.clone(), labelled.then(|| c.labels.clone()));
    let report = fine_tune(&c.model, &data, &options, &mut Quiet).unwrap();
    let s = report
        .layers
        .iter()
        .map(|(_, l)| over_cycles(&l.cycles, Statistic::MeanSquare))
        .collect();
    (s, report.loss_per_cycle[0])
}

fn check(c: &Case, floors: &[(LabelFree, f64)]) {
    let (labelled, _) = drift(c, true, LabelFree::Auto);
    for &(loss, floor) in floors {
        let (free, first_loss) = drift(c, false, loss);
        assert!(first_loss > 0.0, "{loss:?}: no loss, no gradient");
        assert!(
            free.iter().all(|&s| s > 0.0),
            "{loss:?}: a layer did not move"
        );
        let rho = spearman(&labelled, &free);
        println!("{loss:?}: Spearman {rho:.3}");
        assert!(rho >= floor, "{loss:?}: Spearman {rho:.3} < {floor}");
    }
}

#[test]
fn label_free_drift_orders_the_digits_layers_as_labels_do() {
    let c = case("digits/digits_cnn.onnx", "digits/val.npz", 360);
    check(
        &c,
        &[
            (LabelFree::PseudoLabels, 0.99),
            (LabelFree::InputNoise { sigma: 0.1 }, 0.89),
        ],
    );
    // The old self-distillation starts at its minimum: (almost) no loss.
    let (_, first_loss) = drift(&c, false, LabelFree::Distill);
    assert!(first_loss < 1e-6, "{first_loss}");
}

#[test]
fn label_free_drift_orders_the_torch_mnist_layers_as_labels_do() {
    let c = case("torch/mnist_cnn.onnx", "torch/mnist_train.npz", 512);
    check(&c, &[(LabelFree::PseudoLabels, 0.9)]);
}

/// A classifier whose scores come out as `[N, C, 1, 1]` (a convolutional
/// head, as the zoo's SqueezeNet and DenseNet end) is still a classifier:
/// pseudo-labels, and every layer moves as with `[N, C]` scores.
#[test]
fn scores_with_trailing_unit_axes_get_pseudo_labels() {
    let mut c = case("digits/digits_cnn.onnx", "digits/val.npz", 64);
    let g = &mut c.model.graph;
    let scores = g.outputs[0];
    let shape = g.add_initializer(
        "head_shape",
        wdq_ir::Tensor::from_i64(vec![4], vec![0, 10, 1, 1]),
    );
    let reshape = wdq_ir::Op::Reshape(wdq_ir::op::ReshapeAttrs::default());
    let id = g.add_node(
        "head",
        reshape,
        vec![Some(scores), Some(shape)],
        &["scores_4d"],
        None,
    );
    g.outputs[0] = g.node(id).output(0).unwrap();
    let options = TrainOptions {
        cycles: 1,
        ..TrainOptions::default()
    };
    let data = Dataset::samples_first(c.inputs.clone(), None);
    let report = fine_tune(&c.model, &data, &options, &mut Quiet).unwrap();
    assert!(report.loss.contains("pseudo-labels"), "{}", report.loss);
    assert!(report.loss_per_cycle[0] > 0.0);
    assert!(report
        .layers
        .iter()
        .all(|(_, l)| over_cycles(&l.cycles, Statistic::MeanSquare) > 0.0));
}

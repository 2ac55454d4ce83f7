//! Graph preparation (`FoldIntoLayers`): the folded model computes what the
//! original computes (wdq-exec runs both, its BatchNormalization/Mul/Add
//! kernels checked against onnxruntime in wdq-exec's own tests), nothing
//! foldable is left, names stay traceable, and the lowered resnet_bn has no
//! BatchNormalization and no pair between a layer and its Relu.

use crate::common::{load, lower_with, mixed_plan, model_inputs, relative_error, run, summary};
use ndarray::ArrayD;
use wdq_exec::TensorValue;
use wdq_ir::op::{BatchNormAttrs, ConvAttrs, GemmAttrs};
use wdq_ir::{
    run_passes, DType, Graph, Model, NodeId, Op, OpsetId, Tensor, TensorType, ValueDef, ValueId,
};
use wdq_lower::{FoldIntoLayers, Folded, LowerOptions, FOLDED_KEY};

/// `model` folded, and what was folded.
fn fold(model: &Model) -> (Model, Vec<Folded>) {
    let mut out = model.clone();
    let mut pass = FoldIntoLayers::default();
    run_passes(&mut out, &mut [&mut pass]).unwrap();
    (out, pass.folded)
}

fn count(model: &Model, op: &str) -> usize {
    model
        .graph
        .live_nodes()
        .filter(|(_, n)| n.op.op_type() == op)
        .count()
}

#[test]
fn fixture_models_fold_to_the_same_outputs() {
    for (name, folds) in [
        ("resnet_bn", 6),
        ("mobilenet_se", 0),
        ("lenet", 0),
        ("torch_style", 0),
    ] {
        let model = load(&format!("models/{name}.onnx"));
        let (folded, record) = fold(&model);
        assert_eq!(record.len(), folds, "{name}: {record:?}");
        assert_eq!(count(&folded, "BatchNormalization"), 0, "{name}");
        let inputs = model_inputs(name);
        let error = relative_error(&run(&folded, &inputs), &run(&model, &inputs));
        assert!(error < 1e-5, "{name}: relative error {error}");
        let names = |m: &Model| -> Vec<String> {
            m.graph
                .outputs
                .iter()
                .map(|v| m.graph.value(*v).name.clone())
                .collect()
        };
        assert_eq!(names(&folded), names(&model), "{name}");
    }
}

#[test]
fn resnet_bn_folds_are_traceable() {
    let model = load("models/resnet_bn.onnx");
    let (folded, record) = fold(&model);
    let graph = &folded.graph;
    for f in &record {
        assert_eq!(f.op, "BatchNormalization");
        let note = graph
            .node(f.layer)
            .metadata
            .iter()
            .find(|(k, _)| k == FOLDED_KEY)
            .map(|(_, v)| v.clone());
        assert_eq!(note.as_deref(), Some(f.node.as_str()));
    }
    // The BatchNormalization's output name is now the Conv's: readers and
    // names downstream are unchanged.
    let stem = graph.value_by_name("stem.bn.out").unwrap();
    let ValueDef::Node { node, .. } = graph.value(stem).def else {
        panic!("stem.bn.out has no producer");
    };
    assert_eq!(graph.node(node).op.op_type(), "Conv");
    assert_eq!(
        graph.value(graph.node(node).input(2).unwrap()).name,
        "stem.conv.bias"
    );
}

/// No Relu/Clip reads a DequantizeLinear whose QuantizeLinear reads a
/// weighted layer's output: the activation is fused with its layer.
fn no_pair_between_layer_and_activation(model: &Model) -> bool {
    let graph = &model.graph;
    let producer = |v: ValueId| match graph.value(v).def {
        ValueDef::Node { node, .. } => Some(graph.node(node)),
        _ => None,
    };
    graph.live_nodes().all(|(_, n)| {
        if !matches!(n.op, Op::Relu | Op::Clip(_)) {
            return true;
        }
        let Some(dq) = n.input(0).and_then(producer) else {
            return true;
        };
        if !matches!(dq.op, Op::DequantizeLinear(_)) {
            return true;
        }
        let q = dq.input(0).and_then(producer);
        let layer = q.and_then(|q| q.input(0)).and_then(producer);
        !layer.is_some_and(|l| l.op.is_weighted_kind())
    })
}

#[test]
fn lowered_resnet_bn_snapshot_has_no_batchnorm() {
    let model = load("models/resnet_bn.onnx");
    let (folded, _) = fold(&model);
    let inputs = model_inputs("resnet_bn");
    let options = LowerOptions {
        int4_storage: wdq_lower::Int4Storage::Int8,
        ..LowerOptions::default()
    };
    let lowered = lower_with(&folded, &mixed_plan(&folded), &options, &inputs);
    assert_eq!(count(&lowered.model, "BatchNormalization"), 0);
    assert!(no_pair_between_layer_and_activation(&lowered.model));
    // Without the fold, the pair sits between the Conv and its BatchNorm.
    let unfolded = lower_with(&model, &mixed_plan(&model), &options, &inputs);
    assert!(count(&unfolded.model, "BatchNormalization") > 0);
    let error = relative_error(&run(&lowered.model, &inputs), &run(&model, &inputs));
    assert!(error < 0.35, "mixed 4/8 relative error {error}");
    insta::assert_snapshot!(summary(&lowered));
}

/// A deterministic pseudo-random vector in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

struct Builder {
    g: Graph,
    seed: u64,
}

impl Builder {
    fn constant(&mut self, name: &str, shape: &[usize], positive: bool) -> Option<ValueId> {
        self.seed += 1;
        let n = shape.iter().product();
        let mut v = values(n, self.seed);
        if positive {
            v.iter_mut().for_each(|x| *x = x.abs() + 0.5);
        }
        Some(
            self.g
                .add_initializer(name, Tensor::from_f32(shape.to_vec(), v)),
        )
    }

    fn node(&mut self, name: &str, op: Op, inputs: Vec<Option<ValueId>>) -> ValueId {
        let id = self
            .g
            .add_node(name, op, inputs, &[&format!("{name}.out")], None);
        self.g.node(id).output(0).unwrap()
    }

    fn batch_norm(&mut self, name: &str, x: ValueId, c: usize) -> ValueId {
        let gamma = self.constant(&format!("{name}.gamma"), &[c], false);
        let beta = self.constant(&format!("{name}.beta"), &[c], false);
        let mean = self.constant(&format!("{name}.mean"), &[c], false);
        let var = self.constant(&format!("{name}.var"), &[c], true);
        let attrs = BatchNormAttrs {
            epsilon: Some(1e-3),
            ..BatchNormAttrs::default()
        };
        let op = Op::BatchNormalization(attrs);
        self.node(name, op, vec![Some(x), gamma, beta, mean, var])
    }
}

/// Conv -> Mul[C,1,1] -> Add scalar -> Relu; grouped ConvTranspose (no
/// bias) -> BatchNorm -> Sub -> Div; a Conv read twice (not foldable);
/// Flatten -> Gemm(transB=0, beta=0.5) -> BatchNorm -> Gemm(transB=1) -> Add.
fn hand_built() -> Model {
    let mut b = Builder {
        g: Graph::default(),
        seed: 7,
    };
    let x = b.g.add_value(
        "x",
        Some(TensorType::known(DType::F32, &[2, 4, 5, 5])),
        ValueDef::Input,
    );
    b.g.inputs.push(x);
    let conv = Op::Conv(ConvAttrs {
        kernel_shape: Some(vec![3, 3]),
        pads: Some(vec![1, 1, 1, 1]),
        ..ConvAttrs::default()
    });
    let (w, bias) = (
        b.constant("c1.weight", &[6, 4, 3, 3], false),
        b.constant("c1.bias", &[6], false),
    );
    let y = b.node("c1", conv.clone(), vec![Some(x), w, bias]);
    let m = b.constant("mul.c", &[6, 1, 1], false);
    let y = b.node("mul", Op::Mul, vec![m, Some(y)]);
    let a = b.constant("add.c", &[], false);
    let y = b.node("add", Op::Add, vec![Some(y), a]);
    let y = b.node("relu", Op::Relu, vec![Some(y)]);
    let ct = Op::ConvTranspose(ConvAttrs {
        kernel_shape: Some(vec![2, 2]),
        group: Some(2),
        ..ConvAttrs::default()
    });
    let w = b.constant("ct.weight", &[6, 2, 2, 2], false);
    let y = b.node("ct", ct, vec![Some(y), w]);
    let y = b.batch_norm("ct.bn", y, 4);
    let s = b.constant("sub.c", &[1, 4, 1, 1], false);
    let y = b.node("sub", Op::Sub, vec![Some(y), s]);
    let d = b.constant("div.c", &[4, 1, 1], true);
    let y = b.node("div", Op::Div, vec![Some(y), d]);
    let w = b.constant("c2.weight", &[3, 4, 3, 3], false);
    let shared = b.node("c2", conv, vec![Some(y), w]);
    let doubled = b.node("twice", Op::Add, vec![Some(shared), Some(shared)]);
    let flat = b.node(
        "flatten",
        Op::Flatten(wdq_ir::op::AxisAttrs { axis: Some(1) }),
        vec![Some(doubled)],
    );
    let gemm = Op::Gemm(GemmAttrs {
        beta: Some(0.5),
        ..GemmAttrs::default()
    });
    let (w, c) = (
        b.constant("g1.weight", &[108, 5], false),
        b.constant("g1.bias", &[1, 5], false),
    );
    let y = b.node("g1", gemm, vec![Some(flat), w, c]);
    let y = b.batch_norm("g1.bn", y, 5);
    let gemm_t = Op::Gemm(GemmAttrs {
        trans_b: Some(1),
        ..GemmAttrs::default()
    });
    let w = b.constant("g2.weight", &[3, 5], false);
    let y = b.node("g2", gemm_t, vec![Some(y), w]);
    let a = b.constant("g2.add", &[3], false);
    let y = b.node("g2.add", Op::Add, vec![a, Some(y)]);
    b.g.outputs.push(y);
    Model {
        ir_version: 8,
        opsets: vec![OpsetId {
            domain: String::new(),
            version: 13,
        }],
        graph: b.g,
        ..Model::default()
    }
}

#[test]
fn hand_built_chains_fold_and_agree() {
    let model = hand_built();
    let (folded, record) = fold(&model);
    let ops: Vec<&str> = record.iter().map(|f| f.op.as_str()).collect();
    assert_eq!(
        ops,
        [
            "Mul",
            "Add",
            "BatchNormalization",
            "Sub",
            "Div",
            "BatchNormalization",
            "Add"
        ]
    );
    assert_eq!(count(&folded, "BatchNormalization"), 0);
    assert_eq!(count(&folded, "Mul"), 0);
    assert_eq!(
        count(&folded, "Add"),
        1,
        "the Conv read twice is not folded"
    );
    let layer_note = |layer: u32| -> Option<String> {
        folded
            .graph
            .node(NodeId(layer))
            .metadata
            .iter()
            .find(|(k, _)| k == FOLDED_KEY)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(layer_note(0).as_deref(), Some("mul,add"));
    let x = ArrayD::from_shape_vec(vec![2, 4, 5, 5], values(200, 99)).unwrap();
    let inputs = vec![("x".to_string(), TensorValue::F32(x))];
    let (a, b) = (run(&folded, &inputs), run(&model, &inputs));
    let error = relative_error(&a, &b);
    assert!(error < 1e-5, "relative error {error}");
    assert_eq!(a[0].shape(), [2, 3]);
}

#[test]
fn nothing_to_fold_leaves_the_model_unchanged() {
    let model = load("models/lenet.onnx");
    let mut out = model.clone();
    let mut pass = FoldIntoLayers::default();
    let changed = run_passes(&mut out, &mut [&mut pass]).unwrap();
    assert_eq!(changed, vec![wdq_ir::Changed::No]);
    assert_eq!(out, model);
}

//! The fixture models (lenet, mobilenet_se, resnet_bn, torch_style,
//! qdq_int8) lowered and run in wdq-exec.

use crate::common::{
    at_opset_21, calibrate, load, lower_with, mixed_plan, model_inputs, plan_with, relative_error,
    run, summary,
};
use wdq_ir::{weighted_layers, DType, Op, ValueDef};
use wdq_lower::{
    activation_points, lower, ActivationType, BiasMode, Int4Storage, LowerError, LowerOptions,
    Lowered, ScaleMode, WeightGranularity,
};

const MODELS: [&str; 4] = ["lenet", "mobilenet_se", "resnet_bn", "torch_style"];

fn int8_storage() -> LowerOptions {
    LowerOptions {
        int4_storage: Int4Storage::Int8,
        ..LowerOptions::default()
    }
}

/// Every planned layer reads its weight from a DequantizeLinear of an
/// integer initializer of the expected type.
fn check_weights(lowered: &Lowered, packed: bool) {
    let graph = &lowered.model.graph;
    wdq_ir::verify(graph).unwrap();
    let layers = weighted_layers(graph);
    assert_eq!(layers.len(), lowered.layers.len() + lowered.skipped.len());
    for (layer, record) in layers.iter().zip(&lowered.layers) {
        assert!(layer.dequantize.is_some(), "{}", record.node);
        let want = if record.bits <= 4 && packed {
            DType::I4
        } else {
            DType::I8
        };
        assert_eq!(layer.weight_tensor.dtype(), want, "{}", record.node);
        let half = (1i64 << (record.bits - 1)) - 1;
        let codes = layer.weight_tensor.to_i64_vec().unwrap();
        assert!(codes.iter().all(|c| c.abs() <= half), "{}", record.node);
    }
    assert!(lowered.weight_bytes_after < lowered.weight_bytes_before);
}

#[test]
fn fixture_models_mixed_plan_run_close_to_float() {
    for name in MODELS {
        let model = load(&format!("models/{name}.onnx"));
        let inputs = model_inputs(name);
        let float = run(&model, &inputs);
        let plan = mixed_plan(&model);

        let in_i8 = lower_with(&model, &plan, &int8_storage(), &inputs);
        check_weights(&in_i8, false);
        let out_i8 = run(&in_i8.model, &inputs);

        let model21 = at_opset_21(&model);
        let packed = lower_with(
            &model21,
            &mixed_plan(&model21),
            &LowerOptions::default(),
            &inputs,
        );
        check_weights(&packed, true);
        assert_eq!(packed.model.ir_version, 10);
        let out_packed = run(&packed.model, &inputs);
        assert_eq!(
            out_i8, out_packed,
            "{name}: int4 packed and int8 containers differ"
        );
        assert!(
            packed.weight_bytes_after < in_i8.weight_bytes_after,
            "{name}"
        );

        let mixed_error = relative_error(&out_i8, &float);
        let all8 = lower_with(
            &model,
            &plan_with(&model, |_| 8),
            &LowerOptions::default(),
            &inputs,
        );
        check_weights(&all8, true);
        let error8 = relative_error(&run(&all8.model, &inputs), &float);
        eprintln!(
            "{name}: relative error 8-bit {error8:.4}, mixed 4/8 {mixed_error:.4}; bytes {} -> {} (8-bit) / {} (mixed, int4 packed)",
            all8.weight_bytes_before, all8.weight_bytes_after, packed.weight_bytes_after
        );
        assert!(error8 < 0.05, "{name}: 8-bit relative error {error8}");
        assert!(
            mixed_error < 0.35,
            "{name}: mixed relative error {mixed_error}"
        );
        assert!(error8 < mixed_error, "{name}");
    }
}

#[test]
fn lenet_snapshot() {
    let model = load("models/lenet.onnx");
    let lowered = lower_with(
        &model,
        &mixed_plan(&model),
        &int8_storage(),
        &model_inputs("lenet"),
    );
    insta::assert_snapshot!(summary(&lowered));
}

#[test]
fn graph_inputs_and_outputs_keep_their_names_and_old_chains_go() {
    for name in MODELS {
        let model = load(&format!("models/{name}.onnx"));
        let lowered = lower_with(
            &model,
            &mixed_plan(&model),
            &int8_storage(),
            &model_inputs(name),
        );
        let (a, b) = (&model.graph, &lowered.model.graph);
        let names = |g: &wdq_ir::Graph, ids: &[wdq_ir::ValueId]| -> Vec<String> {
            ids.iter().map(|v| g.value(*v).name.clone()).collect()
        };
        assert_eq!(names(a, &a.inputs), names(b, &b.inputs));
        assert_eq!(names(a, &a.outputs), names(b, &b.outputs));
        assert_eq!(a.outputs, b.outputs);
        assert_eq!(lowered.model.metadata, model.metadata);
        assert_eq!(lowered.model.opsets, model.opsets);
        // torch_style's conv weights came through Identity and Constant nodes.
        let live_weight_chains = b
            .live_nodes()
            .filter(|(_, n)| n.name == "/Identity" || n.name == "/conv2/Constant")
            .count();
        assert_eq!(live_weight_chains, 0, "{name}");
    }
}

#[test]
fn lowering_is_deterministic() {
    let model = load("models/torch_style.onnx");
    let inputs = model_inputs("torch_style");
    let a = lower_with(&model, &mixed_plan(&model), &int8_storage(), &inputs);
    let b = lower_with(&model, &mixed_plan(&model), &int8_storage(), &inputs);
    assert_eq!(
        wdq_onnx::encode_model(&a.model).unwrap(),
        wdq_onnx::encode_model(&b.model).unwrap()
    );
}

#[test]
fn options_power_of_two_per_tensor_float_bias() {
    let model = load("models/lenet.onnx");
    let inputs = model_inputs("lenet");
    let float = run(&model, &inputs);
    let options = LowerOptions {
        granularity: WeightGranularity::PerTensor,
        scale: ScaleMode::PowerOfTwo,
        bias: BiasMode::Float,
        ..int8_storage()
    };
    let lowered = lower_with(&model, &plan_with(&model, |_| 8), &options, &inputs);
    for l in &lowered.layers {
        assert_eq!(l.granularity, "per-tensor");
        assert_eq!(l.scales_min, l.scales_max);
        let (n, m) = l.fraction_lengths.unwrap();
        assert_eq!(n, m);
        assert_eq!(l.scales_min, 2f32.powi(-n));
    }
    let graph = &lowered.model.graph;
    for (_, node) in graph.live_nodes() {
        if let Op::QuantizeLinear(_) | Op::DequantizeLinear(_) = node.op {
            let scale = graph.resolve_const(node.input(1).unwrap()).unwrap().1;
            for s in scale.to_f32_vec().unwrap() {
                assert_eq!(s.to_bits() & 0x007f_ffff, 0, "{} scale {s}", node.name);
            }
        }
        if let Op::DequantizeLinear(_) = node.op {
            if let Some((_, t)) = graph.resolve_const(node.input(0).unwrap()) {
                assert_ne!(t.dtype(), DType::I32, "biases stay float");
            }
        }
    }
    let error = relative_error(&run(&lowered.model, &inputs), &float);
    assert!(error < 0.1, "{error}");
}

#[test]
fn weight_only_lowering_has_no_activation_pairs() {
    let model = load("models/resnet_bn.onnx");
    let options = LowerOptions {
        activations: ActivationType::None,
        ..int8_storage()
    };
    assert!(activation_points(&model, &options).is_empty());
    let inputs = model_inputs("resnet_bn");
    let lowered = lower_with(&model, &plan_with(&model, |_| 8), &options, &inputs);
    let graph = &lowered.model.graph;
    assert!(!graph
        .live_nodes()
        .any(|(_, n)| matches!(n.op, Op::QuantizeLinear(_))));
    let error = relative_error(&run(&lowered.model, &inputs), &run(&model, &inputs));
    assert!(error < 0.02, "{error}");
}

#[test]
fn int4_needs_opset_21_and_ranges_are_required() {
    let model = load("models/lenet.onnx");
    let options = LowerOptions::default();
    let plan = mixed_plan(&model);
    assert_eq!(
        wdq_lower::required_opset(&model, &plan, &options).unwrap(),
        21
    );
    let ranges = calibrate(&model, &options, &model_inputs("lenet"));
    assert!(matches!(
        lower(&model, &plan, &ranges, &options),
        Err(LowerError::OpsetTooLow {
            have: 13,
            need: 21,
            ..
        })
    ));
    let options = int8_storage();
    assert_eq!(
        wdq_lower::required_opset(&model, &plan, &options).unwrap(),
        13
    );
    let mut partial = calibrate(&model, &options, &model_inputs("lenet"));
    let first = *activation_points(&model, &options).first().unwrap();
    partial.0.remove(&first);
    assert!(matches!(
        lower(&model, &plan, &partial, &options),
        Err(LowerError::MissingRange { .. })
    ));
    let mut bad = plan.clone();
    bad.layers.values_mut().for_each(|c| c.bits = 9);
    assert!(matches!(
        lower(&model, &bad, &partial, &options),
        Err(LowerError::InvalidBits { bits: 9, .. })
    ));
}

/// An already quantized model: weights are requantized from their
/// dequantized values, existing activation pairs are kept, none is added.
#[test]
fn qdq_model_is_requantized() {
    let model = load("models/qdq_int8.onnx");
    let inputs = model_inputs("qdq_int8");
    let options = int8_storage();
    assert!(activation_points(&model, &options).is_empty());
    let reference = run(&model, &inputs);
    let count = |m: &wdq_ir::Model, kind: &str| {
        m.graph
            .live_nodes()
            .filter(|(_, n)| n.op.op_type() == kind)
            .count()
    };
    let same = lower_with(&model, &plan_with(&model, |_| 8), &options, &inputs);
    assert_eq!(
        count(&same.model, "QuantizeLinear"),
        count(&model, "QuantizeLinear")
    );
    assert_eq!(
        count(&same.model, "DequantizeLinear"),
        count(&model, "DequantizeLinear")
    );
    let error8 = relative_error(&run(&same.model, &inputs), &reference);
    let four = lower_with(&model, &plan_with(&model, |_| 4), &options, &inputs);
    let error4 = relative_error(&run(&four.model, &inputs), &reference);
    eprintln!("qdq_int8 requantized: 8-bit {error8:.4}, 4-bit {error4:.4}");
    assert!(error8 < 0.02, "{error8}");
    assert!(error4 < 0.5 && error4 > error8, "{error4}");
    // The bias stays int32 with the scale of the new weight.
    let graph = &four.model.graph;
    let int32_biases = graph
        .values
        .iter()
        .filter(|v| matches!(&v.def, ValueDef::Initializer(t) if t.dtype() == DType::I32))
        .count();
    assert!(int32_biases >= 3);
}

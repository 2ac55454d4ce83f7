//! Malformed input: every fault is an `OnnxError` naming what and where,
//! never a panic.

use super::common::{
    bytes, f32_tensor, fixtures, float_type, model, node, onnx_files, relu_graph, value_info,
};
use wdq_onnx::{decode_model, load_model, pb, OnnxError};

#[test]
fn truncated_and_corrupted_fixtures_never_panic() {
    let files = onnx_files("models");
    assert!(!files.is_empty());
    for file in &files {
        let original = std::fs::read(file).unwrap();
        let base = file.parent();
        let step = (original.len() / 97).max(1);
        for cut in (0..original.len()).step_by(step) {
            let _ = decode_model(&original[..cut], base);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..300 {
            let mut corrupted = original.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % corrupted.len() as u64) as usize;
                corrupted[at] ^= (state >> 32) as u8 | 1;
            }
            let _ = decode_model(&corrupted, base);
        }
    }
}

#[test]
fn truncated_file_names_the_file() {
    let path = fixtures().join("models/lenet.onnx");
    let original = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &original[..original.len() / 2]).unwrap();
    let err = load_model(&cut).unwrap_err();
    assert!(
        matches!(err, OnnxError::Decode { file: Some(_), .. }),
        "{err}"
    );
    assert!(err.to_string().contains("cut.onnx"), "{err}");
    let err = decode_model(b"\xff\xff\xff\xff garbage", None).unwrap_err();
    assert!(matches!(err, OnnxError::Decode { file: None, .. }), "{err}");
}

#[test]
fn wrong_dims_name_the_tensor() {
    let mut graph = relu_graph();
    graph.node = vec![node("Add", "add", &["x", "w"], &["y"])];
    graph.initializer = vec![f32_tensor("w", &[2, 4], &[1.0; 6])];
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::BadTensor { tensor, .. } if tensor == "w"),
        "{err}"
    );
}

#[test]
fn undefined_input_names_node_and_value() {
    let mut graph = relu_graph();
    graph.node = vec![node("Add", "add", &["x", "missing_weight"], &["y"])];
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    match &err {
        OnnxError::MissingInput { node, op, value } => {
            assert_eq!(
                (node.as_str(), op.as_str(), value.as_str()),
                ("add", "Add", "missing_weight")
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn undefined_output_is_named() {
    let mut graph = relu_graph();
    graph.output.push(value_info("nowhere", None));
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::MissingOutput { value } if value == "nowhere"),
        "{err}"
    );
}

#[test]
fn cycle_is_refused() {
    let mut graph = relu_graph();
    graph.node = vec![
        node("Add", "a", &["x", "c"], &["b"]),
        node("Relu", "r", &["b"], &["c"]),
        node("Identity", "out", &["c"], &["y"]),
    ];
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::Cycle { node } if node == "a" || node == "r"),
        "{err}"
    );
}

#[test]
fn duplicate_names_are_refused() {
    let mut graph = relu_graph();
    graph.node = vec![
        node("Relu", "r1", &["x"], &["y"]),
        node("Relu", "r2", &["x"], &["y"]),
    ];
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::DuplicateName { name } if name == "y"),
        "{err}"
    );
    let mut graph = relu_graph();
    graph.initializer = vec![f32_tensor("x", &[1], &[0.0]), f32_tensor("x", &[1], &[1.0])];
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::DuplicateName { name } if name == "x"),
        "{err}"
    );
    let mut graph = relu_graph();
    graph.node = vec![node("Relu", "r1", &["x"], &["x"])];
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::DuplicateName { name } if name == "x"),
        "{err}"
    );
}

#[test]
fn unordered_nodes_are_sorted() {
    let mut graph = relu_graph();
    graph.node = vec![
        node("Relu", "second", &["h"], &["y"]),
        node("Neg", "first", &["x"], &["h"]),
    ];
    let m = decode_model(&bytes(&model(graph, 13)), None).unwrap();
    let names: Vec<_> = m.graph.live_nodes().map(|(_, n)| n.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);
    wdq_ir::verify(&m.graph).unwrap();
}

#[test]
fn model_level_faults_are_named() {
    let mut m = model(relu_graph(), 13);
    m.ir_version = Some(99);
    let err = decode_model(&bytes(&m), None).unwrap_err();
    assert!(
        matches!(err, OnnxError::UnsupportedIrVersion { version: 99, .. }),
        "{err}"
    );
    let mut m = model(relu_graph(), 13);
    m.graph = None;
    let err = decode_model(&bytes(&m), None).unwrap_err();
    assert!(matches!(err, OnnxError::MissingGraph { .. }), "{err}");
    let mut graph = relu_graph();
    graph.node[0].op_type = None;
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::BadNode { node, .. } if node == "relu"),
        "{err}"
    );
}

#[test]
fn unsupported_types_are_named() {
    let mut graph = relu_graph();
    graph.initializer = vec![pb::TensorProto {
        name: Some("odd".into()),
        dims: vec![1],
        data_type: Some(26),
        raw_data: Some(vec![0]),
        ..Default::default()
    }];
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::BadTensor { tensor, .. } if tensor == "odd"),
        "{err}"
    );
    let mut graph = relu_graph();
    graph.input[0].r#type = Some(pb::TypeProto {
        denotation: None,
        value: Some(pb::type_proto::Value::SequenceType(Box::default())),
    });
    let err = decode_model(&bytes(&model(graph, 13)), None).unwrap_err();
    assert!(
        matches!(&err, OnnxError::BadType { value, .. } if value == "x"),
        "{err}"
    );
}

fn import_error(m: &pb::ModelProto) -> String {
    decode_model(&bytes(m), None).unwrap_err().to_string()
}

#[test]
fn impossible_opsets_dims_names_and_input_counts_are_refused() {
    for version in [0, -1, 1 << 62, 29] {
        let err = import_error(&model(relu_graph(), version));
        assert!(err.contains(&format!("opset {version}")), "{err}");
    }
    decode_model(&bytes(&model(relu_graph(), 28)), None).unwrap();

    let mut huge = relu_graph();
    huge.input = vec![value_info("x", Some(float_type(&[None, Some(1 << 40)])))];
    let err = import_error(&model(huge, 13));
    assert!(err.contains("`x`") && err.contains("dimension 1"), "{err}");

    let mut twice = relu_graph();
    twice.node.push(node("Relu", "relu", &["y"], &["z"]));
    twice.output = vec![value_info("z", None)];
    let err = import_error(&model(twice, 13));
    assert!(err.contains("`relu`") && err.contains("twice"), "{err}");

    let mut relu2 = relu_graph();
    relu2.node = vec![node("Relu", "r", &["x", "x"], &["y"])];
    let err = import_error(&model(relu2, 13));
    assert!(
        err.contains("`r`") && err.contains("Relu takes 1 inputs, the node has 2"),
        "{err}"
    );

    // Trailing empty names are absent optional inputs, not inputs.
    let mut clip = relu_graph();
    clip.node = vec![node("Clip", "c", &["x", "", ""], &["y"])];
    decode_model(&bytes(&model(clip, 13)), None).unwrap();
    let mut conv4 = relu_graph();
    conv4.node = vec![node("Conv", "conv", &["x", "x", "x", "x"], &["y"])];
    let err = import_error(&model(conv4, 13));
    assert!(
        err.contains("`conv`") && err.contains("Conv takes 2 to 3 inputs"),
        "{err}"
    );
}

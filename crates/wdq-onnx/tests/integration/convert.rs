//! Opset conversion: snapshots of the Paddle-style fixture at 13, 18 and
//! 21, the Softmax coercion rewrite, and the refusals.

use super::common::fixtures;
use super::common::{bytes, float_type, int_attr, ints_attr, model, node, value_info};
use wdq_ir::dump::dump_model;
use wdq_onnx::{convert_opset, decode_model, encode_model, load_model, pb, OnnxError};

fn paddle() -> wdq_ir::Model {
    load_model(&fixtures().join("models/paddle_style.onnx")).unwrap()
}

/// Converts, checks the result survives export and import unchanged, and
/// returns the dump with the summary on top.
fn converted_dump(mut m: wdq_ir::Model, target: i64) -> String {
    let summary = convert_opset(&mut m, target).unwrap();
    wdq_ir::verify(&m.graph).unwrap();
    let again = decode_model(&encode_model(&m).unwrap(), None).unwrap();
    assert_eq!(dump_model(&again), dump_model(&m));
    format!(
        "ir_version {}\nrewritten {:?}\n{}",
        m.ir_version,
        summary.rewritten,
        dump_model(&m)
    )
}

#[test]
fn paddle_style_to_13() {
    insta::assert_snapshot!(converted_dump(paddle(), 13));
}

#[test]
fn paddle_style_to_18() {
    insta::assert_snapshot!(converted_dump(paddle(), 18));
}

#[test]
fn paddle_style_to_21() {
    insta::assert_snapshot!(converted_dump(paddle(), 21));
}

#[test]
fn converting_in_steps_equals_converting_at_once() {
    let mut stepped = paddle();
    for target in [12, 13, 17, 18, 21] {
        convert_opset(&mut stepped, target).unwrap();
    }
    let mut direct = paddle();
    convert_opset(&mut direct, 21).unwrap();
    assert_eq!(dump_model(&stepped), dump_model(&direct));
}

fn softmax_model(axis: Option<i64>, dims: &[Option<i64>], op: &str) -> wdq_ir::Model {
    let mut softmax = node(op, "sm", &["x"], &["y"]);
    softmax.attribute.extend(axis.map(|a| int_attr("axis", a)));
    let graph = pb::GraphProto {
        name: Some("g".into()),
        node: vec![softmax],
        input: vec![value_info("x", Some(float_type(dims)))],
        output: vec![value_info("y", Some(float_type(dims)))],
        ..Default::default()
    };
    decode_model(&bytes(&model(graph, 11)), None).unwrap()
}

#[test]
fn softmax_on_the_last_axis_only_sets_the_axis() {
    let text = converted_dump(softmax_model(None, &[None, Some(10)], "Softmax"), 13);
    assert!(text.contains("Softmax[axis=1]"), "{text}");
    assert!(!text.contains("Flatten"), "{text}");
    let text = converted_dump(
        softmax_model(Some(-1), &[None, Some(3), Some(4)], "LogSoftmax"),
        13,
    );
    assert!(text.contains("LogSoftmax[axis=2]"), "{text}");
}

#[test]
fn softmax_coercion_is_spelled_out() {
    insta::assert_snapshot!(converted_dump(
        softmax_model(Some(1), &[None, Some(3), Some(4), Some(5)], "Softmax"),
        13
    ));
    let text = converted_dump(
        softmax_model(None, &[None, Some(3), Some(4)], "Hardmax"),
        21,
    );
    assert!(
        text.contains("Flatten[axis=1]") && text.contains("Reshape("),
        "{text}"
    );
}

#[test]
fn downgrades_and_unknown_targets_are_refused() {
    let mut m = paddle();
    let before = dump_model(&m);
    let err = convert_opset(&mut m, 10).unwrap_err();
    assert!(
        matches!(err, OnnxError::OpsetRequest { target: 10, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("downgrading from opset 11 below opset 13"),
        "{err}"
    );
    let err = convert_opset(&mut m, 99).unwrap_err();
    assert!(
        matches!(err, OnnxError::OpsetRequest { target: 99, .. }),
        "{err}"
    );
    assert_eq!(dump_model(&m), before);
    let summary = convert_opset(&mut m, 11).unwrap();
    assert!(summary.rewritten.is_empty());
}

fn one_node_model(n: pb::NodeProto, opset: i64) -> wdq_ir::Model {
    let graph = pb::GraphProto {
        name: Some("g".into()),
        node: vec![n],
        input: vec![value_info("x", Some(float_type(&[Some(2), Some(3)])))],
        output: vec![value_info("y", None)],
        ..Default::default()
    };
    decode_model(&bytes(&model(graph, opset)), None).unwrap()
}

#[test]
fn unconvertible_nodes_are_named_and_the_model_is_kept() {
    let mut m = one_node_model(node("MysteryOp", "mystery", &["x"], &["y"]), 11);
    let before = m.clone();
    let err = convert_opset(&mut m, 13).unwrap_err();
    match &err {
        OnnxError::OpsetConversion { node, op, why } => {
            assert_eq!((node.as_str(), op.as_str()), ("mystery", "MysteryOp"));
            assert!(why.contains("not a default-domain op"), "{why}");
        }
        other => panic!("{other}"),
    }
    assert!(m == before);
    let mut group_norm = node("GroupNormalization", "gn", &["x", "s", "b"], &["y"]);
    group_norm.attribute.push(int_attr("num_groups", 1));
    let mut graph = one_node_graph_with_consts(group_norm);
    graph.initializer = vec![
        super::common::f32_tensor("s", &[1], &[1.0]),
        super::common::f32_tensor("b", &[1], &[0.0]),
    ];
    let mut m = decode_model(&bytes(&model(graph, 18)), None).unwrap();
    let before = m.clone();
    let err = convert_opset(&mut m, 13).unwrap_err();
    assert!(
        matches!(&err, OnnxError::OpsetConversion { node, op, .. } if node == "gn" && op == "GroupNormalization"),
        "{err}"
    );
    assert!(m == before);
    let mut legacy = node("Add", "legacy_add", &["x", "x"], &["y"]);
    legacy
        .attribute
        .extend([int_attr("broadcast", 1), int_attr("axis", 1)]);
    let mut m = one_node_model(legacy, 6);
    let err = convert_opset(&mut m, 13).unwrap_err();
    assert!(
        matches!(&err, OnnxError::OpsetConversion { node, .. } if node == "legacy_add"),
        "{err}"
    );
}

fn one_node_graph_with_consts(n: pb::NodeProto) -> pb::GraphProto {
    pb::GraphProto {
        name: Some("g".into()),
        node: vec![n],
        input: vec![value_info("x", Some(float_type(&[Some(2), Some(3)])))],
        output: vec![value_info("y", None)],
        ..Default::default()
    }
}

#[test]
fn subgraphs_needing_rewrites_block_the_conversion() {
    let mut squeeze = node("Squeeze", "inner_squeeze", &["x"], &["z"]);
    squeeze.attribute.push(ints_attr("axes", &[0]));
    let branch = |ops: Vec<pb::NodeProto>| pb::GraphProto {
        name: Some("branch".into()),
        node: ops,
        output: vec![value_info("z", None)],
        ..Default::default()
    };
    let graph_attr = |name: &str, g: pb::GraphProto| pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Graph as i32),
        g: Some(g),
        ..Default::default()
    };
    let mut if_node = node("If", "cond_if", &["c"], &["y"]);
    if_node.attribute = vec![
        graph_attr("then_branch", branch(vec![squeeze])),
        graph_attr(
            "else_branch",
            branch(vec![node("Identity", "id", &["x"], &["z"])]),
        ),
    ];
    let mut graph = one_node_graph_with_consts(if_node);
    graph.input.push(value_info("c", None));
    let m = decode_model(&bytes(&model(graph, 11)), None).unwrap();
    let mut to_13 = m.clone();
    let err = convert_opset(&mut to_13, 13).unwrap_err();
    match &err {
        OnnxError::OpsetConversion { node, why, .. } => {
            assert_eq!(node, "cond_if");
            assert!(why.contains("inner_squeeze"), "{why}");
        }
        other => panic!("{other}"),
    }
    let mut to_12 = m;
    convert_opset(&mut to_12, 12).unwrap();
}

#[test]
fn legacy_attributes_become_inputs() {
    let mut clip = node("Clip", "clip", &["x"], &["y"]);
    clip.attribute = vec![
        pb::AttributeProto {
            name: Some("min".into()),
            r#type: Some(pb::attribute_proto::AttributeType::Float as i32),
            f: Some(0.0),
            ..Default::default()
        },
        ints_attr("consumed_inputs", &[0]),
    ];
    let text = converted_dump(one_node_model(clip, 5), 13);
    assert!(text.contains("= Clip(%0, const f32[])"), "{text}");
    let mut slice = node("Slice", "slice", &["x"], &["y"]);
    slice.attribute = vec![
        ints_attr("starts", &[0]),
        ints_attr("ends", &[1]),
        ints_attr("axes", &[1]),
    ];
    let text = converted_dump(one_node_model(slice, 9), 13);
    assert!(
        text.contains("Slice(%0, const i64[1], const i64[1], const i64[1])"),
        "{text}"
    );
}

#[test]
fn downgrades_undo_changes_and_decompose_new_ops() {
    let mut m = paddle();
    convert_opset(&mut m, 18).unwrap();
    let up = dump_model(&m);
    let summary = convert_opset(&mut m, 13).unwrap();
    assert_eq!((summary.from, summary.to), (18, 13));
    wdq_ir::verify(&m.graph).unwrap();
    assert_eq!(m.default_opset(), Some(13));
    let mut again = m.clone();
    convert_opset(&mut again, 18).unwrap();
    assert_eq!(dump_model(&again), up, "13 -> 18 -> 13 -> 18 is stable");

    let mut ln = node("LayerNormalization", "ln", &["x", "s"], &["y", "mean"]);
    ln.attribute.push(int_attr("axis", -1));
    let mut graph = one_node_graph_with_consts(ln);
    graph.initializer = vec![super::common::f32_tensor("s", &[3], &[1.0; 3])];
    let mut m = decode_model(&bytes(&model(graph, 17)), None).unwrap();
    let text = converted_dump(m.clone(), 13);
    assert!(!text.contains("= LayerNormalization"), "{text}");
    for op in ["ReduceMean", "Sub", "Sqrt", "Div", "Mul"] {
        assert!(text.contains(op), "{op} missing:\n{text}");
    }
    // A read Mean output has no decomposition: refused, model kept.
    let mean = m.graph.value_by_name("mean").unwrap();
    m.graph.outputs.push(mean);
    let before = dump_model(&m);
    let err = convert_opset(&mut m, 13).unwrap_err();
    assert!(err.to_string().contains("extra outputs are read"), "{err}");
    assert_eq!(dump_model(&m), before);
}

#[test]
fn a_downgrade_drops_added_attributes_only_at_their_older_value() {
    let cast = |saturate: i64| {
        let mut n = node("Cast", "cast", &["x"], &["y"]);
        n.attribute
            .extend([int_attr("to", 10), int_attr("saturate", saturate)]);
        one_node_model(n, 19)
    };
    let text = converted_dump(cast(1), 13);
    assert!(!text.contains("saturate"), "{text}");
    let mut m = cast(0);
    let err = convert_opset(&mut m, 13).unwrap_err();
    assert!(
        matches!(&err, OnnxError::OpsetConversion { node, why, .. }
            if node == "cast" && why.contains("`saturate`") && why.contains("opset 19")),
        "{err}"
    );
}

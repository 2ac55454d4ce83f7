//! `inline_if` on fixtures/models/if_name_clash.onnx: the taken branch
//! reuses a main-graph value and node name, returns one value twice and an
//! outer value directly.

use super::common::fixtures;
use std::collections::HashSet;
use wdq_ir::{verify, NodeId, Op};

fn the_if(graph: &wdq_ir::Graph) -> NodeId {
    graph
        .live_nodes()
        .find(|(id, _)| wdq_onnx::is_if(graph, *id))
        .map(|(id, _)| id)
        .expect("an If node")
}

#[test]
fn the_taken_branch_replaces_the_if_and_names_stay_unique() {
    let mut model = wdq_onnx::load_model(&fixtures().join("models/if_name_clash.onnx")).unwrap();
    let outputs_before: Vec<String> = model
        .graph
        .outputs
        .iter()
        .map(|&v| model.graph.value(v).name.clone())
        .collect();
    let id = the_if(&model.graph);
    wdq_onnx::inline_if(&mut model.graph, id, true).unwrap();
    let graph = &model.graph;
    verify(graph).unwrap();
    assert!(!graph.order.contains(&id));
    let names: Vec<String> = graph
        .outputs
        .iter()
        .map(|&v| graph.value(v).name.clone())
        .collect();
    assert_eq!(names, outputs_before);
    let ops: Vec<&str> = graph.live_nodes().map(|(_, n)| n.op.op_type()).collect();
    assert_eq!(ops, ["Constant", "Neg", "Add", "Identity", "Identity"]);
    let node_names: HashSet<&str> = graph.live_nodes().map(|(_, n)| n.name.as_str()).collect();
    assert!(node_names.contains("neg") && node_names.contains("neg__1"));
    // y1 is the branch's Add (its `t` renamed, then named y1); the main
    // graph's `t` is still Neg's.
    let producer = |name: &str| {
        let v = graph
            .outputs
            .iter()
            .find(|&&v| graph.value(v).name == name)
            .unwrap();
        match graph.value(*v).def {
            wdq_ir::ValueDef::Node { node, .. } => graph.node(node),
            _ => panic!("{name} is not computed"),
        }
    };
    assert!(matches!(producer("y1").op, Op::Add));
    assert!(matches!(producer("t").op, Op::Neg));
    assert!(matches!(producer("y2").op, Op::Identity));
    // The model still encodes and reads back.
    let bytes = wdq_onnx::encode_model(&model).unwrap();
    let back = wdq_onnx::decode_model(&bytes, None).unwrap();
    verify(&back.graph).unwrap();
}

#[test]
fn inlining_a_node_that_is_not_an_if_is_an_error_naming_it() {
    let mut model = wdq_onnx::load_model(&fixtures().join("models/if_name_clash.onnx")).unwrap();
    let neg = model
        .graph
        .live_nodes()
        .find(|(_, n)| matches!(n.op, Op::Neg))
        .map(|(id, _)| id)
        .unwrap();
    let err = wdq_onnx::inline_if(&mut model.graph, neg, true).unwrap_err();
    assert!(err.to_string().contains("`neg`"), "{err}");
}

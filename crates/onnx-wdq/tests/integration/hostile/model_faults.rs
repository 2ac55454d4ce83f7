//! Model faults found after the first corpus: a declared attribute of the
//! wrong kind, quantization scales that are NaN, protobuf nesting past the
//! decoder's limit, an output naming the model's external data, and a very
//! long node chain under the memory limit.

use super::build::{graph, model_with, poison_initializer};
use super::cases::{case, limited};
use super::{Case, Expect};
use crate::common::root;
use prost::Message;
use std::path::Path;
use wdq_onnx::pb;

fn copy_fixture(dir: &Path, files: &[&str]) {
    for f in files {
        std::fs::copy(root().join("fixtures/models").join(f), dir.join(f)).unwrap();
    }
}

/// `qdq_int8.onnx` with the scale `name` set to NaN, as `x.onnx`, and the
/// fixture's inputs as unlabelled data.
fn qdq_with_nan_scale(name: &'static str) -> impl Fn(&Path) -> bool + Send + Sync {
    move |dir: &Path| {
        copy_fixture(dir, &["qdq_int8.inputs.npz"]);
        model_with(&dir.join("x.onnx"), "qdq_int8.onnx", |m| {
            poison_initializer(m, name, f32::NAN);
        });
        true
    }
}

/// If nodes nested `depth` deep in their then-branches (each else-branch
/// a leaf, so the size grows linearly).
fn nested_ifs(depth: usize) -> pb::ModelProto {
    let identity = |input: &str| pb::NodeProto {
        op_type: Some("Identity".into()),
        input: vec![input.into()],
        output: vec!["y".into()],
        ..Default::default()
    };
    let leaf = pb::GraphProto {
        name: Some("leaf".into()),
        node: vec![identity("x")],
        ..Default::default()
    };
    let mut inner = leaf.clone();
    for level in 0..depth {
        let branch = |g: pb::GraphProto, name: &str| pb::AttributeProto {
            name: Some(name.into()),
            r#type: Some(pb::attribute_proto::AttributeType::Graph as i32),
            g: Some(g),
            ..Default::default()
        };
        let node = pb::NodeProto {
            op_type: Some("If".into()),
            input: vec!["c".into()],
            output: vec!["y".into()],
            attribute: vec![
                branch(inner, "then_branch"),
                branch(leaf.clone(), "else_branch"),
            ],
            ..Default::default()
        };
        inner = pb::GraphProto {
            name: Some(format!("level{level}")),
            node: vec![node],
            ..Default::default()
        };
    }
    pb::ModelProto {
        ir_version: Some(8),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(inner),
        ..Default::default()
    }
}

/// A chain of `n` Relu nodes on input `x` `[N, 4]`.
fn relu_chain(n: usize) -> pb::ModelProto {
    let mut m = super::build::fixture_model("mlp.onnx");
    let g = graph(&mut m);
    g.initializer.clear();
    g.node = (0..n)
        .map(|i| pb::NodeProto {
            name: Some(format!("r{i}")),
            op_type: Some("Relu".into()),
            input: vec![if i == 0 {
                "input".into()
            } else {
                format!("v{}", i - 1)
            }],
            output: vec![if i + 1 == n {
                "logits".into()
            } else {
                format!("v{i}")
            }],
            ..Default::default()
        })
        .collect();
    g.output[0] = g.input[0].clone();
    g.output[0].name = Some("logits".into());
    m
}

pub fn all() -> Vec<Case> {
    let qdq_main = [
        "x.onnx",
        "-o",
        "out.onnx",
        "--data",
        "qdq_int8.inputs.npz",
        "--cycles",
        "1",
    ];
    vec![
        case(
            "attribute_of_the_wrong_kind",
            |dir: &Path| {
                model_with(&dir.join("x.onnx"), "mlp.onnx", |m| {
                    graph(m).node[0].attribute.push(pb::AttributeProto {
                        name: Some("alpha".into()),
                        r#type: Some(pb::attribute_proto::AttributeType::Ints as i32),
                        ints: vec![1, 2],
                        ..Default::default()
                    });
                });
                true
            },
            &["inspect", "x.onnx"],
            Expect::Refuse(&["x.onnx", "`fc1`", "`alpha`", "INTS", "FLOAT"]),
        ),
        case(
            "weight_scale_nan",
            qdq_with_nan_scale("conv1.weight_scale"),
            &qdq_main,
            Expect::Refuse(&["x.onnx", "`conv1.weight_scale`", "NaN"]),
        ),
        case(
            "activation_scale_nan",
            qdq_with_nan_scale("input_scale"),
            &qdq_main,
            Expect::Refuse(&["x.onnx", "`input_scale`", "NaN"]),
        ),
        case(
            "graphs_nested_past_the_decoder_limit",
            |dir: &Path| {
                std::fs::write(dir.join("x.onnx"), nested_ifs(120).encode_to_vec()).unwrap();
                true
            },
            &["inspect", "x.onnx"],
            Expect::Refuse(&["x.onnx", "nested more than 100 deep"]),
        ),
        case(
            "o_is_the_external_data",
            |dir: &Path| {
                copy_fixture(dir, &["external_data.onnx", "external_data.onnx.data"]);
                true
            },
            &[
                "convert",
                "external_data.onnx",
                "-o",
                "external_data.onnx.data",
            ],
            Expect::Refuse(&["-o", "external data"]),
        ),
        limited(case(
            "chain_of_300k_nodes",
            |dir: &Path| {
                std::fs::write(dir.join("x.onnx"), relu_chain(300_000).encode_to_vec()).unwrap();
                true
            },
            &["inspect", "x.onnx"],
            Expect::Succeed,
        )),
    ]
}

//! Import, export, import again: the IR must come back identical, and the
//! exported bytes must be stable.

use super::common::{fixtures, onnx_files};
use prost::Message;
use wdq_onnx::{decode_model, encode_model, load_model};

fn round_trip(path: &std::path::Path) {
    let first = load_model(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    wdq_ir::verify(&first.graph).unwrap();
    let bytes = encode_model(&first).unwrap();
    let second = decode_model(&bytes, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        first == second,
        "{}: IR changed on round trip",
        path.display()
    );
    let again = encode_model(&second).unwrap();
    assert!(
        bytes == again,
        "{}: export is not deterministic",
        path.display()
    );
}

#[test]
fn fixture_models_round_trip() {
    let files = onnx_files("models");
    assert!(
        files.len() >= 10,
        "expected the fixture models, found {}",
        files.len()
    );
    for file in &files {
        round_trip(file);
    }
}

#[test]
fn op_fixtures_round_trip() {
    let files = onnx_files("ops");
    assert!(
        files.len() >= 200,
        "expected the op fixtures, found {}",
        files.len()
    );
    for file in &files {
        round_trip(file);
    }
}

#[test]
fn digits_model_round_trips() {
    let files = onnx_files("digits");
    assert!(!files.is_empty());
    for file in &files {
        round_trip(file);
    }
}

/// One initializer per element type, in the typed field the spec gives it.
fn every_dtype_model() -> wdq_onnx::pb::ModelProto {
    use wdq_onnx::pb::TensorProto;
    let typed = |name: &str, code: i32, dims: Vec<i64>| TensorProto {
        name: Some(name.into()),
        data_type: Some(code),
        dims,
        ..Default::default()
    };
    let mut inits = vec![
        TensorProto {
            float_data: vec![1.5, -2.0],
            ..typed("f32", 1, vec![2])
        },
        TensorProto {
            int32_data: vec![0, 255],
            ..typed("u8", 2, vec![2])
        },
        TensorProto {
            int32_data: vec![-128, 127],
            ..typed("i8", 3, vec![2])
        },
        TensorProto {
            int32_data: vec![65535],
            ..typed("u16", 4, vec![1])
        },
        TensorProto {
            int32_data: vec![-2],
            ..typed("i16", 5, vec![1])
        },
        TensorProto {
            int32_data: vec![i32::MIN, 7],
            ..typed("i32", 6, vec![2])
        },
        TensorProto {
            int64_data: vec![i64::MAX],
            ..typed("i64", 7, vec![1])
        },
        TensorProto {
            string_data: vec![b"a".to_vec(), vec![0xff]],
            ..typed("str", 8, vec![2])
        },
        TensorProto {
            int32_data: vec![1, 0, 1],
            ..typed("bool", 9, vec![3])
        },
        TensorProto {
            int32_data: vec![0x3c00],
            ..typed("f16", 10, vec![1])
        },
        TensorProto {
            double_data: vec![0.25],
            ..typed("f64", 11, vec![1])
        },
        TensorProto {
            uint64_data: vec![u32::MAX as u64],
            ..typed("u32", 12, vec![1])
        },
        TensorProto {
            uint64_data: vec![u64::MAX],
            ..typed("u64", 13, vec![1])
        },
        TensorProto {
            float_data: vec![1.0, 2.0],
            ..typed("c64", 14, vec![1])
        },
        TensorProto {
            double_data: vec![1.0, 2.0],
            ..typed("c128", 15, vec![1])
        },
        TensorProto {
            int32_data: vec![0x3f80],
            ..typed("bf16", 16, vec![1])
        },
        TensorProto {
            int32_data: vec![0x7e],
            ..typed("f8e4m3fn", 17, vec![1])
        },
        TensorProto {
            int32_data: vec![1],
            ..typed("f8e4m3fnuz", 18, vec![1])
        },
        TensorProto {
            int32_data: vec![2],
            ..typed("f8e5m2", 19, vec![1])
        },
        TensorProto {
            int32_data: vec![3],
            ..typed("f8e5m2fnuz", 20, vec![1])
        },
        TensorProto {
            int32_data: vec![0xf1, 0x07],
            ..typed("u4", 21, vec![3])
        },
        TensorProto {
            int32_data: vec![0x8f, 0x07],
            ..typed("i4", 22, vec![3])
        },
        TensorProto {
            int32_data: vec![0x21],
            ..typed("f4e2m1", 23, vec![2])
        },
        TensorProto {
            raw_data: Some(vec![0x98, 0x0f]),
            ..typed("i4raw", 22, vec![2, 2])
        },
        TensorProto {
            raw_data: Some(vec![]),
            ..typed("empty", 1, vec![0, 3])
        },
    ];
    for t in &mut inits {
        t.doc_string = None;
    }
    let mut graph = super::common::relu_graph();
    let names: Vec<String> = inits.iter().map(|t| t.name.clone().unwrap()).collect();
    graph.initializer = inits;
    graph
        .output
        .extend(names.iter().map(|n| super::common::value_info(n, None)));
    super::common::model(graph, 21)
}

#[test]
fn every_dtype_round_trips() {
    use wdq_ir::{TensorData, ValueDef};
    let proto = every_dtype_model();
    let first = decode_model(&super::common::bytes(&proto), None).unwrap();
    let data = |name: &str| match &first
        .graph
        .value(first.graph.value_by_name(name).unwrap())
        .def
    {
        ValueDef::Initializer(t) => t.data().clone(),
        _ => panic!("{name} is not an initializer"),
    };
    assert_eq!(data("i4"), TensorData::I8(vec![-1, -8, 7]));
    assert_eq!(data("u4"), TensorData::U8(vec![1, 15, 7]));
    assert_eq!(data("i4raw"), TensorData::I8(vec![-8, -7, -1, 0]));
    assert_eq!(data("bool"), TensorData::Bool(vec![true, false, true]));
    assert_eq!(data("u16"), TensorData::Bytes(vec![0xff, 0xff]));
    assert_eq!(
        data("str"),
        TensorData::Strings(vec![b"a".to_vec(), vec![0xff]])
    );
    assert_eq!(data("bf16"), TensorData::Bytes(vec![0x80, 0x3f]));
    let bytes = encode_model(&first).unwrap();
    let second = decode_model(&bytes, None).unwrap();
    assert!(first == second);
    assert_eq!(bytes, encode_model(&second).unwrap());
}

#[test]
fn int4_fixture_keeps_its_values() {
    use wdq_ir::{DType, TensorData, ValueDef};
    let m = load_model(&fixtures().join("models/int4_weights.onnx")).unwrap();
    let int4: Vec<_> = m
        .graph
        .values
        .iter()
        .filter_map(|v| match &v.def {
            ValueDef::Initializer(t) if matches!(t.dtype(), DType::I4 | DType::U4) => {
                Some(t.clone())
            }
            _ => None,
        })
        .collect();
    assert!(!int4.is_empty());
    for t in int4 {
        match t.data() {
            TensorData::I8(v) => assert!(v.iter().all(|x| (-8..=7).contains(x))),
            TensorData::U8(v) => assert!(v.iter().all(|x| *x <= 15)),
            other => panic!("unexpected storage {other:?}"),
        }
    }
}

#[test]
fn model_fields_and_preserved_parts_survive() {
    use wdq_onnx::pb;
    let mut proto = super::common::model(super::common::relu_graph(), 13);
    proto.doc_string = Some("doc".into());
    proto.domain = Some("org.example".into());
    proto.model_version = Some(3);
    proto.producer_version = Some("1.0".into());
    proto.metadata_props = vec![pb::StringStringEntryProto {
        key: Some("k".into()),
        value: Some("v".into()),
    }];
    proto.opset_import.push(pb::OperatorSetIdProto {
        domain: Some("com.example".into()),
        version: Some(2),
    });
    proto.functions = vec![pb::FunctionProto {
        name: Some("F".into()),
        domain: Some("com.example".into()),
        node: vec![super::common::node("Relu", "in_f", &["a"], &["b"])],
        input: vec!["a".into()],
        output: vec!["b".into()],
        ..Default::default()
    }];
    proto.training_info = vec![pb::TrainingInfoProto {
        algorithm: Some(pb::GraphProto {
            name: Some("train".into()),
            ..Default::default()
        }),
        ..Default::default()
    }];
    let mut graph = proto.graph.take().unwrap();
    graph.node.push(pb::NodeProto {
        domain: Some("com.example".into()),
        ..super::common::node("F", "call", &["y"], &["z"])
    });
    graph.output = vec![super::common::value_info("z", None)];
    graph.doc_string = Some("graph doc".into());
    proto.graph = Some(graph);
    let m = decode_model(&super::common::bytes(&proto), None).unwrap();
    assert_eq!(m.metadata, vec![("k".to_string(), "v".to_string())]);
    assert_eq!(
        m.preserved.iter().map(|p| p.0).collect::<Vec<_>>(),
        [20, 25]
    );
    let back = pb::ModelProto::decode(encode_model(&m).unwrap().as_slice()).unwrap();
    assert_eq!(back.functions, proto.functions);
    assert_eq!(back.training_info, proto.training_info);
    assert_eq!(back.opset_import, proto.opset_import);
    assert_eq!(back.doc_string, proto.doc_string);
    assert_eq!(back.domain, proto.domain);
    assert_eq!(back.model_version, proto.model_version);
    assert!(decode_model(&encode_model(&m).unwrap(), None).unwrap() == m);
}

#[test]
fn models_built_in_code_export() {
    use wdq_ir::{Graph, Model, Op, OpsetId, Tensor, TensorType, ValueDef};
    let mut graph = Graph::default();
    let x = graph.add_value(
        "x",
        Some(TensorType::known(wdq_ir::DType::F32, &[2, 3])),
        ValueDef::Input,
    );
    graph.inputs.push(x);
    let w = graph.add_initializer("", Tensor::from_f32(vec![3], vec![1.0, 2.0, 3.0]));
    let add = graph.add_node("", Op::Add, vec![Some(x), Some(w)], &[""], None);
    let sum = graph.node(add).output(0).unwrap();
    let relu = graph.add_node("", Op::Relu, vec![Some(sum)], &["y"], None);
    graph.outputs.push(graph.node(relu).output(0).unwrap());
    let model = Model {
        opsets: vec![OpsetId {
            domain: String::new(),
            version: 13,
        }],
        graph,
        ..Model::default()
    };
    let back = decode_model(&encode_model(&model).unwrap(), None).unwrap();
    assert_eq!(back.ir_version, 7);
    assert_eq!(
        wdq_ir::dump::dump_model(&back),
        wdq_ir::dump::dump_model(&model)
    );
    assert!(back.graph.values.iter().all(|v| !v.name.is_empty()));

    let mut unlisted = model.clone();
    unlisted.graph.inputs.clear();
    let err = encode_model(&unlisted).unwrap_err();
    assert!(
        matches!(&err, wdq_onnx::OnnxError::BadGraphInput { value, .. } if value == "x"),
        "{err}"
    );
    let mut produced = model;
    produced.graph.inputs.push(sum);
    let err = encode_model(&produced).unwrap_err();
    assert!(
        matches!(err, wdq_onnx::OnnxError::BadGraphInput { .. }),
        "{err}"
    );
}

#[test]
fn domains_used_by_nodes_are_imported() {
    let mut m = load_model(&fixtures().join("models/mlp.onnx")).unwrap();
    let relu = m
        .graph
        .order
        .iter()
        .copied()
        .find(|&n| m.graph.node(n).op == wdq_ir::Op::Relu)
        .unwrap();
    m.graph.node_mut(relu).op = wdq_ir::Op::Opaque {
        domain: "com.example.new".into(),
        op_type: "MyRelu".into(),
        attrs: vec![wdq_onnx::opaque_attr(&wdq_ir::Attr {
            name: "alpha".into(),
            value: wdq_ir::AttrValue::Float(0.5),
        })],
    };
    let back = decode_model(&encode_model(&m).unwrap(), None).unwrap();
    assert!(back
        .opsets
        .iter()
        .any(|o| o.domain == "com.example.new" && o.version == 1));
    assert_eq!(back.graph.node(relu).op, m.graph.node(relu).op);
}

/// Node, graph, value and initializer `metadata_props` (written by the
/// onnx package in the fixture generator) are imported, and kept on export
/// (`fixture_models_round_trip` checks the IR comes back equal).
#[test]
fn metadata_props_are_kept() {
    let model = load_model(&fixtures().join("models/tied_mlp.onnx")).unwrap();
    let graph = &model.graph;
    let pair = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let fc1 = graph.live_nodes().find(|(_, n)| n.name == "fc1").unwrap().1;
    assert_eq!(fc1.metadata, pair("origin", "torch.nn.Linear"));
    assert_eq!(graph.metadata, pair("exporter", "legacy"));
    let value = |name: &str| graph.value(graph.value_by_name(name).unwrap());
    assert_eq!(value("input").metadata, pair("layout", "NC"));
    assert_eq!(value("shared.weight").metadata, pair("tied", "fc1 fc2"));
    let again = decode_model(&encode_model(&model).unwrap(), None).unwrap();
    assert_eq!(again, model);
}

/// A model that uses the default domain without importing it reads as
/// importing it at the newest supported opset, which is what export writes.
#[test]
fn a_missing_default_opset_is_decided_at_import() {
    let mut proto = super::common::model(super::common::relu_graph(), 13);
    proto.opset_import.clear();
    let m = decode_model(&super::common::bytes(&proto), None).unwrap();
    assert_eq!(m.default_opset(), Some(wdq_onnx::opset::MAX_TARGET));
    let again = decode_model(&encode_model(&m).unwrap(), None).unwrap();
    assert!(again == m);
}

//! Shared helpers: fixture paths and small protobuf model builders.

use prost::Message;
use std::path::{Path, PathBuf};
use wdq_onnx::pb;

/// The repository's `fixtures` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The `.onnx` files of `fixtures/<sub>`, sorted; empty when the folder is absent.
pub fn onnx_files(sub: &str) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(fixtures().join(sub)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    files.sort();
    files
}

/// A float tensor type with the given dims (`None` for a symbolic one).
pub fn float_type(dims: &[Option<i64>]) -> pb::TypeProto {
    use pb::tensor_shape_proto::dimension::Value;
    pb::TypeProto {
        denotation: None,
        value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
            elem_type: Some(1),
            shape: Some(pb::TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|d| pb::tensor_shape_proto::Dimension {
                        denotation: None,
                        value: Some(match d {
                            Some(n) => Value::DimValue(*n),
                            None => Value::DimParam("N".into()),
                        }),
                    })
                    .collect(),
            }),
        })),
    }
}

pub fn value_info(name: &str, ty: Option<pb::TypeProto>) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: Some(name.into()),
        r#type: ty,
        ..Default::default()
    }
}

pub fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    pb::NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn int_attr(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Int as i32),
        i: Some(i),
        ..Default::default()
    }
}

pub fn ints_attr(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn f32_tensor(name: &str, dims: &[i64], values: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(1),
        float_data: values.to_vec(),
        ..Default::default()
    }
}

/// A model around `graph` at the given default-domain opset.
pub fn model(graph: pb::GraphProto, opset: i64) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: Some(8),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        producer_name: Some("wdq-onnx tests".into()),
        graph: Some(graph),
        ..Default::default()
    }
}

/// `y = Relu(x)` on a `[N, 4]` input, the smallest valid model.
pub fn relu_graph() -> pb::GraphProto {
    pb::GraphProto {
        name: Some("g".into()),
        node: vec![node("Relu", "relu", &["x"], &["y"])],
        input: vec![value_info("x", Some(float_type(&[None, Some(4)])))],
        output: vec![value_info("y", Some(float_type(&[None, Some(4)])))],
        ..Default::default()
    }
}

pub fn bytes(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

//! Export: [`wdq_ir::Model`] to `ModelProto` bytes.
//!
//! The inverse of import: known ops get their attributes back as
//! `AttributeProto`, opaque ops their kept encodings; every tensor is
//! written inline; intermediate values with a type get a `value_info`.
//! Initializers that nothing reads (no live node, graph input or output,
//! subgraph, or training info) are left out, so that weights a pass has
//! replaced do not travel along. Output is deterministic, fields in
//! field-number order as protobuf encoders write them.

mod check;
mod graph;

pub(crate) use check::check_ids;

use crate::import::{FIELD_TRAINING_INFO, MIN_IR_VERSION};
use crate::opset::{ir_version_for_opset, MAX_TARGET};
use crate::pb;
use crate::OnnxError;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, message, WireType};
use prost::Message;
use std::collections::HashSet;
use wdq_ir::Model;

/// `ModelProto.graph` and `GraphProto.initializer` field numbers.
const FIELD_GRAPH: u32 = 7;
const FIELD_INITIALIZER: u32 = 5;

/// Encodes a model as ONNX bytes, every tensor inline. The same model always
/// gives the same bytes. Tensors are encoded one at a time into the output,
/// so memory stays near the model's size plus the output's.
///
/// The IR version written is the model's, raised only where the file would
/// otherwise be invalid: a model without a readable one (below
/// [`MIN_IR_VERSION`]) gets its default opset's, and an IR 3 model whose
/// initializers are not all graph inputs gets 4. A domain that nodes use but
/// the model does not import is written as imported at version 1 (the
/// default domain, at [`MAX_TARGET`]).
///
/// # Errors
/// [`OnnxError::DanglingId`] for ids outside the arena,
/// [`OnnxError::Invalid`] when the graph breaks an IR invariant (see
/// [`wdq_ir::verify`]), [`OnnxError::BadGraphInput`] for a graph input
/// defined by a node or an unlisted input value that is read,
/// [`OnnxError::BadAttribute`] when an opaque node's kept attribute bytes do
/// not decode.
pub fn encode_model(model: &Model) -> Result<Vec<u8>, OnnxError> {
    let keep_all = model
        .preserved
        .iter()
        .any(|(f, _)| *f == FIELD_TRAINING_INFO);
    let mut parts = graph::graph_parts(&model.graph, keep_all)?;
    let ir_version = ir_version(model, &parts);
    let proto = std::mem::take(&mut parts.proto);
    // GraphProto fields before `initializer` (5), and after it.
    let head = pb::GraphProto {
        node: proto.node,
        name: proto.name,
        ..Default::default()
    };
    let tail = pb::GraphProto {
        doc_string: proto.doc_string,
        input: proto.input,
        output: proto.output,
        value_info: proto.value_info,
        metadata_props: proto.metadata_props,
        ..Default::default()
    };
    let mut initializers_len = 0;
    parts.for_each_initializer(&model.graph, |t| {
        initializers_len += message::encoded_len(FIELD_INITIALIZER, &t);
    });
    let graph_len = head.encoded_len() + initializers_len + tail.encoded_len();
    // ModelProto fields before `graph` (7), and after it.
    let before = pb::ModelProto {
        ir_version: Some(ir_version),
        producer_name: non_empty(&model.producer_name),
        producer_version: non_empty(&model.producer_version),
        domain: non_empty(&model.domain),
        model_version: (model.model_version != 0).then_some(model.model_version),
        doc_string: non_empty(&model.doc_string),
        ..Default::default()
    };
    let after = pb::ModelProto {
        opset_import: opset_imports(model, &head),
        metadata_props: graph::metadata_props(&model.metadata),
        ..Default::default()
    };
    let preserved_len: usize = model
        .preserved
        .iter()
        .map(|(f, b)| prost::encoding::key_len(*f) + encoded_len_varint(b.len() as u64) + b.len())
        .sum();
    let mut bytes = Vec::with_capacity(
        before.encoded_len()
            + prost::encoding::key_len(FIELD_GRAPH)
            + encoded_len_varint(graph_len as u64)
            + graph_len
            + after.encoded_len()
            + preserved_len,
    );
    before.encode_raw(&mut bytes);
    encode_key(FIELD_GRAPH, WireType::LengthDelimited, &mut bytes);
    encode_varint(graph_len as u64, &mut bytes);
    head.encode_raw(&mut bytes);
    parts.for_each_initializer(&model.graph, |t| {
        message::encode(FIELD_INITIALIZER, &t, &mut bytes);
    });
    tail.encode_raw(&mut bytes);
    after.encode_raw(&mut bytes);
    for (field, encoded) in &model.preserved {
        encode_key(*field, WireType::LengthDelimited, &mut bytes);
        encode_varint(encoded.len() as u64, &mut bytes);
        bytes.extend_from_slice(encoded);
    }
    Ok(bytes)
}

/// The model's opsets, plus version 1 of any domain a node uses that the
/// model does not import (such as the project's gradient domain).
fn opset_imports(model: &Model, graph: &pb::GraphProto) -> Vec<pb::OperatorSetIdProto> {
    let mut out: Vec<pb::OperatorSetIdProto> = model
        .opsets
        .iter()
        .map(|o| pb::OperatorSetIdProto {
            domain: Some(o.domain.clone()),
            version: Some(o.version),
        })
        .collect();
    for node in &graph.node {
        let domain = node.domain.as_deref().unwrap_or("");
        let default = domain.is_empty() || domain == "ai.onnx";
        let known = |o: &pb::OperatorSetIdProto| {
            let d = o.domain.as_deref().unwrap_or("");
            d == domain || (default && (d.is_empty() || d == "ai.onnx"))
        };
        if !out.iter().any(known) {
            out.push(pb::OperatorSetIdProto {
                domain: Some(domain.to_string()),
                version: Some(if default { MAX_TARGET } else { 1 }),
            });
        }
    }
    out
}

/// The IR version to write (see [`encode_model`]).
fn ir_version(model: &Model, parts: &graph::GraphParts) -> i64 {
    let mut version = model.ir_version;
    if version < MIN_IR_VERSION {
        version = ir_version_for_opset(model.default_opset().unwrap_or(MAX_TARGET));
    }
    let inputs: HashSet<&str> = parts
        .proto
        .input
        .iter()
        .filter_map(|i| i.name.as_deref())
        .collect();
    let all_listed = parts.initializer_names().all(|n| inputs.contains(n));
    if version < 4 && !all_listed {
        version = 4;
    }
    version
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

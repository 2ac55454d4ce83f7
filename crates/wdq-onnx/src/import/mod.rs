//! Import: `ModelProto` bytes to [`wdq_ir::Model`].
//!
//! The model level lives here (IR version check, opsets, metadata, the
//! parts kept encoded in [`Model::preserved`]); [`graph`] builds the graph.

mod checks;
mod graph;

pub(crate) use checks::nodes as check_nodes;
pub(crate) use graph::{add_node, topological_order};

use crate::external::ExternalResolver;
use crate::opset::MAX_TARGET;
use crate::pb;
use crate::OnnxError;
use prost::Message;
use std::path::Path;
use wdq_ir::{Model, OpsetId};

/// Oldest IR version read (attributes carry their `type` from IR 2 on;
/// older files are still read by inferring it, but IR 3 is the floor the
/// project tests).
pub const MIN_IR_VERSION: i64 = 3;
/// Newest IR version read: the one `proto/onnx.proto` defines.
pub const MAX_IR_VERSION: i64 = 14;

/// `ModelProto` field numbers of the parts kept in [`Model::preserved`].
pub(crate) const FIELD_TRAINING_INFO: u32 = 20;
pub(crate) const FIELD_FUNCTIONS: u32 = 25;
pub(crate) const FIELD_CONFIGURATION: u32 = 26;

/// Imports a subgraph on its own (see [`crate::branches`]): every name it
/// reads must be defined in it.
pub(crate) fn subgraph_from_proto(
    proto: pb::GraphProto,
    external: &ExternalResolver,
) -> Result<wdq_ir::Graph, OnnxError> {
    graph::graph_from_proto(proto, external)
}

/// Decodes and imports an ONNX model. External tensor data is resolved
/// relative to `base_dir` (the folder the model was read from); without one,
/// a model that keeps data outside the file is refused. All external data is
/// read during import: the returned model holds every tensor in memory.
///
/// # Errors
/// [`OnnxError::Decode`] for bytes that are not a `ModelProto` (truncated,
/// garbage), [`OnnxError::UnsupportedIrVersion`], [`OnnxError::MissingGraph`],
/// [`OnnxError::ExternalData`] for data that cannot be read, and the
/// structural errors of the graph: [`OnnxError::MissingInput`],
/// [`OnnxError::MissingOutput`], [`OnnxError::DuplicateName`],
/// [`OnnxError::Cycle`], [`OnnxError::BadTensor`], [`OnnxError::BadType`],
/// [`OnnxError::BadNode`].
pub fn decode_model(bytes: &[u8], base_dir: Option<&Path>) -> Result<Model, OnnxError> {
    let proto = pb::ModelProto::decode(bytes).map_err(|e| OnnxError::Decode {
        file: None,
        reason: crate::error::decode_reason(&e),
    })?;
    model_from_proto(proto, &ExternalResolver::new(base_dir))
}

/// Imports a decoded model (see [`decode_model`]).
pub(crate) fn model_from_proto(
    mut proto: pb::ModelProto,
    external: &ExternalResolver,
) -> Result<Model, OnnxError> {
    let ir_version = proto.ir_version.unwrap_or(0);
    if !(MIN_IR_VERSION..=MAX_IR_VERSION).contains(&ir_version) {
        return Err(OnnxError::UnsupportedIrVersion {
            version: ir_version,
            min: MIN_IR_VERSION,
            max: MAX_IR_VERSION,
        });
    }
    let graph_proto = proto
        .graph
        .take()
        .ok_or(OnnxError::MissingGraph { file: None })?;
    let graph = graph::graph_from_proto(graph_proto, external)?;
    let mut preserved = Vec::new();
    for mut info in proto.training_info {
        for g in [info.initialization.as_mut(), info.algorithm.as_mut()]
            .into_iter()
            .flatten()
        {
            external.inline_graph(g)?;
        }
        preserved.push((FIELD_TRAINING_INFO, info.encode_to_vec()));
    }
    for mut function in proto.functions {
        for node in function.node.iter_mut() {
            for attr in node.attribute.iter_mut() {
                external.inline_attribute(attr)?;
            }
        }
        preserved.push((FIELD_FUNCTIONS, function.encode_to_vec()));
    }
    for config in proto.configuration {
        preserved.push((FIELD_CONFIGURATION, config.encode_to_vec()));
    }
    let mut opsets: Vec<OpsetId> = proto
        .opset_import
        .into_iter()
        .map(|o| OpsetId {
            domain: o.domain.unwrap_or_default(),
            version: o.version.unwrap_or(0),
        })
        .collect();
    checks::opsets(&opsets)?;
    checks::quantization_scales(&graph)?;
    // The one missing-opset default, decided here: a model whose nodes use
    // the default domain without importing it reads as importing it at
    // MAX_TARGET, which is also what export writes for it. Later stages
    // find `default_opset()` set.
    let is_default = |d: &str| d.is_empty() || d == "ai.onnx";
    let uses_default = graph.live_nodes().any(|(_, n)| is_default(n.op.domain()));
    if uses_default && !opsets.iter().any(|o| is_default(&o.domain)) {
        opsets.push(OpsetId {
            domain: String::new(),
            version: MAX_TARGET,
        });
    }
    Ok(Model {
        ir_version,
        opsets,
        producer_name: proto.producer_name.unwrap_or_default(),
        producer_version: proto.producer_version.unwrap_or_default(),
        domain: proto.domain.unwrap_or_default(),
        model_version: proto.model_version.unwrap_or(0),
        doc_string: proto.doc_string.unwrap_or_default(),
        metadata: proto
            .metadata_props
            .into_iter()
            .map(|e| (e.key.unwrap_or_default(), e.value.unwrap_or_default()))
            .collect(),
        preserved,
        graph,
    })
}

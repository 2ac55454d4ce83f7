//! The ONNX front and back end: protobuf bytes to [`wdq_ir::Model`] and back,
//! external tensor data, and default-domain opset conversion.
//!
//! This is the only crate that names protobuf types. Import checks what the
//! IR relies on (defined inputs, unique names, acyclic graph, tensor sizes)
//! and reports violations as [`OnnxError`]; it never panics on input.
//! Export writes every tensor inline and is deterministic: the same model
//! always encodes to the same bytes.
//!
//! Round trip: for a model read from a file, `decode_model(encode_model(m))`
//! gives `m` back, as long as every initializer is read by something (export
//! leaves out initializers that no node, graph input or output, subgraph or
//! training info reads). Sparse initializers come back dense. What the IR
//! has no place for is not kept: `quantization_annotation`, node `overload` and device
//! configurations, dimension and type denotations, names and doc strings of
//! tensors inside attributes, and fields unknown to `proto/onnx.proto`.
//! Model-level functions, training info and device configurations are kept
//! encoded in [`wdq_ir::Model::preserved`]; opaque nodes keep their
//! attributes (subgraphs included) as encoded `AttributeProto`s.

mod attr;
pub mod branches;
mod error;
mod export;
mod external;
mod import;
mod inline_if;
mod io;
pub mod opset;
mod scope;
mod sparse;
mod tensor;
mod types;

/// The prost types generated from `proto/onnx.proto`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use attr::{decode_opaque_attr, opaque_attr};
pub use branches::{weighted_subgraphs, Subgraph};
pub use error::OnnxError;
pub use export::encode_model;
pub use import::{decode_model, MAX_IR_VERSION, MIN_IR_VERSION};
pub use inline_if::{inline_if, is_if};
pub use io::{load_model, load_model_and_files, open_regular, read_bounded, save_model};
pub use opset::{convert_opset, ConvertSummary};

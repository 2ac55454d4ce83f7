//! The crate's one error type. Every variant names what went wrong and where
//! (file, node, op, tensor, value), so that a message alone locates the fault.

use std::path::PathBuf;

/// Why an ONNX model could not be read, written or converted.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The bytes are not a valid `ModelProto` (truncated, garbage).
    #[error("{}: not a valid ONNX protobuf: {reason}", file_text(.file))]
    Decode {
        file: Option<PathBuf>,
        /// prost's error, its field path shortened ([`decode_reason`]).
        reason: String,
    },
    /// The model has no graph.
    #[error("{}: the model has no graph", file_text(.file))]
    MissingGraph { file: Option<PathBuf> },
    /// An opset version no release of its domain has.
    #[error("opset {version} of domain {domain} is not valid: {why}")]
    BadOpset {
        domain: String,
        version: i64,
        why: String,
    },
    /// The file's IR version is outside what this crate reads.
    #[error("IR version {version} is not supported (supported: {min}..={max})")]
    UnsupportedIrVersion { version: i64, min: i64, max: i64 },
    /// A node reads a value that nothing defines.
    #[error("node `{node}` ({op}) reads `{value}`, which no input, initializer or node defines")]
    MissingInput {
        node: String,
        op: String,
        value: String,
    },
    /// A graph output names a value that nothing defines.
    #[error("graph output `{value}` is not defined by any input, initializer or node")]
    MissingOutput { value: String },
    /// Two definitions (inputs, initializers, node outputs) share a name.
    #[error("value `{name}` is defined twice")]
    DuplicateName { name: String },
    /// The nodes cannot be ordered: `node` is part of a cycle.
    #[error("node `{node}` is part of a cycle")]
    Cycle { node: String },
    /// A tensor's contents do not match its declaration.
    #[error("tensor `{tensor}`: {why}")]
    BadTensor { tensor: String, why: String },
    /// A value's declared type is not one the IR represents.
    #[error("value `{value}`: {why}")]
    BadType { value: String, why: String },
    /// A tensor stored outside the model file could not be read.
    #[error("tensor `{tensor}`: external data `{location}`: {why}")]
    ExternalData {
        tensor: String,
        location: String,
        why: String,
    },
    /// A node is malformed (no op type).
    #[error("node `{node}`: {why}")]
    BadNode { node: String, why: String },
    /// A node's attribute could not be converted.
    #[error("node `{node}` ({op}): attribute `{attr}`: {why}")]
    BadAttribute {
        node: String,
        op: String,
        attr: String,
        why: String,
    },
    /// The IR refers to a node or value id outside its arena.
    #[error("graph refers to {what}, which does not exist")]
    DanglingId { what: String },
    /// A graph input that export cannot write as one.
    #[error("graph input `{value}`: {why}")]
    BadGraphInput { value: String, why: String },
    /// The IR does not satisfy the graph invariants needed for export.
    #[error("graph is not well formed: {0}")]
    Invalid(#[from] wdq_ir::VerifyError),
    /// An opset conversion was asked for that this crate cannot do.
    #[error("opset conversion to {target}: {why}")]
    OpsetRequest { target: i64, why: String },
    /// A node could not be converted to the target opset.
    #[error("opset conversion: node `{node}` ({op}): {why}")]
    OpsetConversion {
        node: String,
        op: String,
        why: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn file_text(file: &Option<PathBuf>) -> String {
    match file {
        Some(p) => p.display().to_string(),
        None => "<bytes>".to_string(),
    }
}

/// Path elements of a decode error shown in full; a deeper path shows its
/// first and last few with the count of those left out.
const DECODE_PATH_SHOWN: usize = 6;

/// prost's decode error as one short line: the field path (`Msg.field`
/// steps, outermost first), shortened when deep, then the cause. A model
/// nested past prost's recursion limit otherwise prints a path of hundreds
/// of steps before the cause.
pub fn decode_reason(error: &prost::DecodeError) -> String {
    let text = error.to_string();
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let mut parts: Vec<&str> = text.split(": ").collect();
    let cause = parts.pop().unwrap_or_default();
    let path = if parts.len() > DECODE_PATH_SHOWN {
        let head = parts[..DECODE_PATH_SHOWN / 2].join(" > ");
        let tail = parts[parts.len() - DECODE_PATH_SHOWN / 2..].join(" > ");
        let skipped = parts.len() - DECODE_PATH_SHOWN;
        format!("{head} > ({skipped} more) > {tail}")
    } else {
        parts.join(" > ")
    };
    let cause = if cause == "recursion limit reached" {
        "messages nested more than 100 deep (graphs inside graphs), past the decoder's recursion limit".to_string()
    } else {
        cause.to_string()
    };
    if path.is_empty() {
        cause
    } else {
        format!("{cause} (in {path})")
    }
}

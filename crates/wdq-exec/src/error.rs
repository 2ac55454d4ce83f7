//! Executor errors. Kernels return [`KernelError`]; the plan wraps it with the
//! node and op into [`ExecError`].

use wdq_ir::DType;

/// What a kernel found wrong with its inputs or attributes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelError {
    #[error("input {index} is missing")]
    MissingInput { index: usize },
    #[error("input {index} has element type {got}, expected {expected}")]
    InputType {
        index: usize,
        got: DType,
        expected: &'static str,
    },
    #[error("shapes {a:?} and {b:?} do not broadcast")]
    Broadcast { a: Vec<usize>, b: Vec<usize> },
    #[error("bad shape: {0}")]
    Shape(String),
    #[error("bad attribute `{name}`: {why}")]
    Attribute { name: &'static str, why: String },
    #[error("{0} is not supported")]
    Unsupported(String),
    #[error("{got} inputs given, the op takes {expected}")]
    Arity { got: usize, expected: String },
}

/// An execution failure, naming the node and op.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    #[error("node `{node}` ({op}): {source}")]
    Kernel {
        node: String,
        op: String,
        source: KernelError,
    },
    #[error("node `{node}`: op {op} cannot be run by wdq-exec")]
    UnsupportedOp { node: String, op: String },
    #[error("graph input `{name}` was not given")]
    MissingGraphInput { name: String },
    #[error("graph input `{name}`: expected {expected}, got {got}")]
    GraphInput {
        name: String,
        expected: String,
        got: String,
    },
    #[error("constant `{name}`: {source}")]
    Constant {
        name: String,
        source: crate::value::UnsupportedDType,
    },
}

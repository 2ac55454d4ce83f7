//! Autodiff errors, each naming the node, op or tensor concerned.

/// Why a training step could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutodiffError {
    #[error("the model has no output to train against")]
    NoOutput,
    #[error("node `{node}` ({op}) lies between a trainable weight and the loss but has no gradient rule{why}")]
    NonDifferentiable {
        node: String,
        op: String,
        why: String,
    },
    #[error(
        "node `{node}` ({op}): the gradient with respect to input {slot} is not supported: {why}"
    )]
    UnsupportedInput {
        node: String,
        op: String,
        slot: usize,
        why: String,
    },
    #[error("parameter `{name}`: {why}")]
    Parameter { name: String, why: String },
    #[error("the model has no trainable parameter")]
    NoParameters,
    #[error("the training-step graph is malformed: {0}")]
    Verify(#[from] wdq_ir::VerifyError),
}

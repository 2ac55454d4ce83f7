//! onnx-wdq's CPU executor: runs an IR graph on batches.
//!
//! Kernels are grouped by family ([`nn`], [`tensor_ops`]) behind
//! [`run_op`]; [`plan`] schedules a whole graph; [`fold`] and [`infer`] are
//! the constant-folding and static shape-inference passes, which reuse the
//! kernels.

mod dispatch;
mod error;
pub mod fold;
pub mod grad;
pub mod infer;
mod kit;
pub mod nn;
pub mod plan;
pub mod tensor_ops;
mod value;

pub use dispatch::{is_compute_op, run_node, run_op, KernelContext, KernelResult};
pub use error::{ExecError, KernelError};
pub use value::{TensorValue, UnsupportedDType};

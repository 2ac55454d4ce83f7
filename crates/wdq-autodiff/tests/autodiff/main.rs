//! wdq-autodiff integration tests (one binary): gradient rules against
//! central finite differences, training-step snapshots, and whole-model
//! gradients against PyTorch references.

mod behaviour;
mod common;
mod fd_einsum;
mod fd_export_ops;
mod fd_harness;
mod fd_ops;
mod fd_recurrent;
mod finite_diff;
mod pytorch;
mod snapshots;

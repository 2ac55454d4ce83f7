//! onnx-wdq integration tests, one binary (house style): the command-line
//! contract, `compare`, the method without labels and on any output, and
//! real PyTorch exports; the hostile-input corpus.

mod cli;
mod common;
mod compare;
mod early_stop;
mod hostile;
mod label_free;
mod pipeline;
mod targets;
mod torch_exported;

//! onnx-wdq integration tests, one binary (house style): the command-line
//! contract, `compare`, the method without labels and on any output, and
//! real PyTorch exports.

mod cli;
mod common;
mod compare;
mod label_free;
mod pipeline;
mod targets;
mod torch_exported;

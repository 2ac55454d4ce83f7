//! onnx-wdq integration tests, one binary (house style): the command-line
//! contract, `compare`, and real PyTorch exports.

mod cli;
mod common;
mod compare;
mod pipeline;
mod torch_exported;

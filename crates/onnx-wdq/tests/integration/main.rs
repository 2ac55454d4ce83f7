//! onnx-wdq integration tests, one binary (house style): the command-line
//! contract, `compare`, the method without labels and on any output, and
//! real PyTorch exports; the hostile-input corpus and the data reader's
//! mutation test.

mod cli;
mod common;
mod compare;
mod early_stop;
mod hostile;
mod inputs;
mod label_free;
mod npz_mutants;
mod pipeline;
mod recurrent;
mod targets;
mod torch_exported;

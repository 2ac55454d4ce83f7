//! wdq-exec's integration tests, one binary (house style): kernels on spec
//! examples and naive references, onnxruntime fixtures, plans, shape
//! inference and folding, robustness against odd inputs, and speed probes.

mod common;
mod infer_fold;
mod infer_graphs;
mod infer_robustness;
mod nn_conv;
mod nn_onnx_cases;
mod nn_ops;
mod nn_plan;
mod nn_robustness;
mod ops_fixtures;
mod ops_infer_fixtures;
mod ops_misc;
mod ops_movement;
mod ops_qdq;
mod ops_resize;
mod ops_robustness;
mod ops_shape;

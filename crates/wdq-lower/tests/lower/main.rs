//! Integration tests of wdq-lower: the fixture models lowered with mixed
//! plans, run in wdq-exec against their float outputs, snapshots of the
//! lowered graphs, and the export of models for the onnxruntime check.

mod common;
mod digits;
mod models;
mod ort_export;
mod prepare;
mod profiles;

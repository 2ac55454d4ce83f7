//! onnx-wdq as a library: the steps the CLI runs, callable from
//! model-compilation flows. Each command is a function from typed options to
//! a typed, serialisable result.

pub mod analyze;
pub mod annotate;
pub mod calibrate;
pub mod check;
pub mod compare;
pub mod data;
mod data_checks;
pub mod eval_command;
pub mod evaluate;
pub mod files;
pub mod inspect;
pub mod layout;
pub mod npy;
mod npz;
pub mod pipeline;
pub mod quantize;
pub mod specialise;
pub mod target;

/// The class count of a classifier whose first output is declared
/// `[N, classes]` with a known `classes`.
pub fn declared_classes(model: &wdq_ir::Model) -> Option<usize> {
    let graph = &model.graph;
    let ty = graph.value(*graph.outputs.first()?).ty.as_ref()?;
    match ty.shape.as_deref()? {
        [_, wdq_ir::Dim::Known(c)] => Some(*c),
        _ => None,
    }
}

/// Names of the graph inputs a caller must feed (inputs without an
/// initializer default), in graph order.
pub fn required_inputs(model: &wdq_ir::Model) -> Vec<String> {
    let graph = &model.graph;
    graph
        .inputs
        .iter()
        .filter(|v| matches!(graph.value(**v).def, wdq_ir::ValueDef::Input))
        .map(|v| graph.value(*v).name.clone())
        .collect()
}

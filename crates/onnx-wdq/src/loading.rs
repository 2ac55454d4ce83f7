//! Reading the data of a command: each input's batch axis, the checks
//! against the model, `If` specialisation on the fixed inputs, and the
//! batch size a model exported with a fixed batch of 1 runs at.

use crate::cli::DataArgs;
use crate::printable;
use anyhow::{Context, Result};
use onnx_wdq::data::{DataFile, Dataset};
use onnx_wdq::layout::BatchAxisOption;
use wdq_exec::TensorValue;

/// Loads a dataset for `model` (each input's batch axis from `axes` and
/// the model), checking labels against its declared classes, and
/// specialises the model's `If` nodes on the data's fixed inputs.
pub fn load_dataset(
    model: &mut wdq_ir::Model,
    path: &std::path::Path,
    axes: &[BatchAxisOption],
) -> Result<Dataset> {
    let data = Dataset::load_for(path, model, axes)?;
    data.check_shapes(path, model)?;
    data.check_finite(path)?;
    if let Some(classes) = onnx_wdq::declared_classes(model) {
        data.check_labels(path, classes)?;
    }
    specialise(model, &data.fixed_inputs())?.require_complete()?;
    Ok(data)
}

/// Specialises the `If` nodes of `model` decided by constants and `fixed`
/// inputs, saying so on standard error.
pub fn specialise(
    model: &mut wdq_ir::Model,
    fixed: &[(String, TensorValue)],
) -> Result<onnx_wdq::specialise::Specialisation> {
    let done = onnx_wdq::specialise::specialise_ifs(model, fixed)?;
    for i in &done.specialised {
        let on = if i.on.is_empty() {
            "constants".to_string()
        } else {
            format!("fixed input {}", i.on.join(", "))
        };
        eprintln!(
            "{}",
            printable(&format!(
                "note: If `{}` specialised to its {} (condition `{}` from {on})",
                i.node, i.taken, i.condition
            ))
        );
    }
    Ok(done)
}

/// The batch size to run `model` at: `requested`, or 1 (said on standard
/// error) when the model was exported with a fixed batch of 1.
pub fn batch_for(model: &wdq_ir::Model, data: &Dataset, requested: usize) -> usize {
    match data.declared_batch(model) {
        Some((input, 1)) if requested != 1 => {
            eprintln!(
                "{}",
                printable(&format!(
                    "note: input `{input}` is declared with a batch of 1: the model runs one sample at a time (instead of batches of {requested})"
                ))
            );
            1
        }
        _ => requested,
    }
}

/// The training and validation samples of --data (split) or --train/--val.
pub fn load_data(
    model: &mut wdq_ir::Model,
    args: &DataArgs,
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    let axes = &args.batch_axis;
    Ok(match (&args.data, &args.train, &args.val) {
        (Some(data), _, _) => {
            let all = load_dataset(model, data, axes)?;
            all.split(args.val_fraction, seed)
                .with_context(|| format!("splitting {}", data.display()))?
        }
        (None, Some(t), Some(v)) => {
            let train = load_dataset(model, t, axes)?;
            let val = load_dataset(model, v, axes)?;
            // The model was specialised on the training data's fixed inputs.
            for ((name, a), (_, b)) in train.fixed_inputs().iter().zip(&val.fixed_inputs()) {
                if a != b {
                    anyhow::bail!(
                        "fixed input `{name}` differs between --train {} and --val {}; a fixed input (given once, fed with every batch) must be the same in both",
                        t.display(),
                        v.display()
                    );
                }
            }
            (train, val)
        }
        _ => anyhow::bail!("give --data, or --train and --val"),
    })
}

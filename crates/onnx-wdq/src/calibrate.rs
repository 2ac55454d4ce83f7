//! Activation calibration: run the float model on training samples and
//! record, per activation point, the range the chosen method keeps.

use crate::data::Dataset;
use std::collections::HashMap;
use wdq_exec::plan::Plan;
use wdq_exec::{ExecError, TensorValue};
use wdq_ir::{Model, ValueId};
use wdq_quant::calibrate::{AnyCalibrator, CalibrationMethod, Calibrator};

/// Why calibration failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("calibration method: {0}")]
    Method(wdq_quant::QuantError),
    #[error("activation `{name}` saw no finite value during calibration")]
    NoValues { name: String },
}

/// (min, max) of every point over the first `samples` samples of `data`,
/// as `method` calibrates it. Points that are not f32 are left out.
///
/// # Errors
/// [`CalibrationError`] when the model fails to run or a point never holds
/// a finite value.
pub fn activation_ranges(
    model: &Model,
    data: &Dataset,
    points: &[ValueId],
    method: &CalibrationMethod,
    samples: usize,
    batch_size: usize,
) -> Result<HashMap<ValueId, (f32, f32)>, CalibrationError> {
    let plan = Plan::new(model)?;
    let mut calibrators: HashMap<ValueId, AnyCalibrator> = HashMap::new();
    let end = samples.min(data.len).max(1).min(data.len);
    let mut start = 0;
    while start < end {
        let stop = (start + batch_size.max(1)).min(end);
        let (_, kept) = plan.run_with(&data.batch(start, stop), points)?;
        for &point in points {
            if let Some(TensorValue::F32(a)) = kept.get(&point) {
                let calibrator = match calibrators.get_mut(&point) {
                    Some(c) => c,
                    None => calibrators
                        .entry(point)
                        .or_insert(method.calibrator().map_err(CalibrationError::Method)?),
                };
                match a.as_slice() {
                    Some(s) => calibrator.observe(s),
                    None => calibrator.observe(&a.iter().copied().collect::<Vec<f32>>()),
                }
            }
        }
        start = stop;
    }
    let mut ranges = HashMap::new();
    for (point, calibrator) in calibrators {
        let range = calibrator.range().map_err(|_| CalibrationError::NoValues {
            name: model.graph.value(point).name.clone(),
        })?;
        ranges.insert(point, range);
    }
    Ok(ranges)
}

//! Where each input's samples lie: the batch axis of every graph input, or
//! none for a fixed input (a scalar such as a sample rate, or a state given
//! once) that is fed whole with every batch.
//!
//! The rules, in order: `--batch-axis NAME=AXIS` (or `NAME=fixed`); a
//! scalar input is fixed; an input whose declared shape names the batch
//! dimension (the symbolic name on axis 0 of the first input that has one)
//! has its batch on that axis; an input whose shape is fully declared and
//! whose array has exactly that shape, while the other inputs hold a
//! different number of samples, is fixed; anything else has its samples on
//! axis 0. Outputs follow the same batch name (axis 0 otherwise).

use std::fmt;
use std::str::FromStr;
use wdq_ir::{Dim, Model};

/// One `--batch-axis NAME=AXIS` (or `NAME=fixed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchAxisOption {
    pub input: String,
    /// `None`: the input is fixed.
    pub axis: Option<usize>,
}

impl FromStr for BatchAxisOption {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let Some((input, axis)) = text.rsplit_once('=') else {
            return Err(format!(
                "`{text}` is not NAME=AXIS (an input name, `=`, an axis number or `fixed`)"
            ));
        };
        if input.is_empty() {
            return Err(format!("`{text}`: the input name is empty"));
        }
        let axis = match axis {
            "fixed" | "none" => None,
            n => Some(n.parse::<usize>().map_err(|_| {
                format!("`{text}`: the axis `{n}` is not a non-negative number or `fixed`")
            })?),
        };
        Ok(BatchAxisOption {
            input: input.to_string(),
            axis,
        })
    }
}

impl fmt::Display for BatchAxisOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.axis {
            Some(a) => write!(f, "{}={a}", self.input),
            None => write!(f, "{}=fixed", self.input),
        }
    }
}

/// A `--batch-axis` that does not fit the model.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("--batch-axis {option}: the model has no input `{input}` to feed (inputs: {inputs})")]
    NoSuchInput {
        option: String,
        input: String,
        inputs: String,
    },
    #[error("--batch-axis {option}: input `{input}` is declared {declared} (rank {rank}); the axis must be below {rank}")]
    AxisOutOfRange {
        option: String,
        input: String,
        declared: String,
        rank: usize,
    },
    #[error("--batch-axis {option}: input `{input}` is given twice")]
    Twice { option: String, input: String },
}

/// What the model and the options decide for each input before the data
/// is read: `Some(Some(axis))`, `Some(None)` (fixed), or `None` (decided by
/// the array's shape, see the module doc).
pub(crate) type Decided = Option<Option<usize>>;

/// The batch dimension's name: the symbolic name on axis 0 of the first
/// required input that has one.
pub(crate) fn batch_name(model: &Model, inputs: &[String]) -> Option<String> {
    inputs
        .iter()
        .filter_map(|n| declared_shape(model, n))
        .find_map(|shape| match shape.first() {
            Some(Dim::Named(s)) => Some(s.clone()),
            _ => None,
        })
}

/// The declared shape of graph input or output `name`, if any.
pub(crate) fn declared_shape<'a>(model: &'a Model, name: &str) -> Option<&'a [Dim]> {
    let graph = &model.graph;
    graph
        .inputs
        .iter()
        .chain(&graph.outputs)
        .map(|&v| graph.value(v))
        .find(|v| v.name == name)
        .and_then(|v| v.ty.as_ref()?.shape.as_deref())
}

/// A declared dimension as reports print it: a number, a symbolic name,
/// or `?`.
pub(crate) fn dim_text(dim: &Dim) -> String {
    match dim {
        Dim::Known(n) => n.to_string(),
        Dim::Named(s) => s.clone(),
        Dim::Unknown => "?".to_string(),
    }
}

/// `[2,batch,128]`: a declared shape as messages print it.
pub(crate) fn render_dims(dims: &[Dim]) -> String {
    let dims: Vec<String> = dims.iter().map(dim_text).collect();
    format!("[{}]", dims.join(","))
}

/// The decision for each of `inputs` from the model and `options`.
///
/// # Errors
/// [`LayoutError`] for an option naming no input, an axis outside the
/// input's declared rank, or an input given twice.
pub(crate) fn decide(
    model: &Model,
    inputs: &[String],
    options: &[BatchAxisOption],
) -> Result<Vec<Decided>, LayoutError> {
    for (i, o) in options.iter().enumerate() {
        if !inputs.contains(&o.input) {
            return Err(LayoutError::NoSuchInput {
                option: o.to_string(),
                input: o.input.clone(),
                inputs: inputs.join(", "),
            });
        }
        if options[..i].iter().any(|p| p.input == o.input) {
            return Err(LayoutError::Twice {
                option: o.to_string(),
                input: o.input.clone(),
            });
        }
        if let (Some(axis), Some(shape)) = (o.axis, declared_shape(model, &o.input)) {
            if axis >= shape.len() {
                return Err(LayoutError::AxisOutOfRange {
                    option: o.to_string(),
                    input: o.input.clone(),
                    declared: render_dims(shape),
                    rank: shape.len(),
                });
            }
        }
    }
    let batch = batch_name(model, inputs);
    Ok(inputs
        .iter()
        .map(|name| {
            if let Some(o) = options.iter().find(|o| &o.input == name) {
                return Some(o.axis);
            }
            let shape = declared_shape(model, name)?;
            if shape.is_empty() {
                return Some(None);
            }
            let named = shape
                .iter()
                .position(|d| matches!(d, Dim::Named(s) if Some(s) == batch.as_ref()));
            named.map(Some)
        })
        .collect())
}

/// The batch axis of each graph output: where the batch name is declared,
/// else axis 0.
pub(crate) fn output_axes(model: &Model, batch: Option<&str>) -> Vec<usize> {
    let graph = &model.graph;
    graph
        .outputs
        .iter()
        .map(|&v| {
            let shape = graph.value(v).ty.as_ref().and_then(|t| t.shape.as_deref());
            shape
                .and_then(|s| {
                    s.iter()
                        .position(|d| matches!(d, Dim::Named(n) if Some(n.as_str()) == batch))
                })
                .unwrap_or(0)
        })
        .collect()
}

/// Whether an input left undecided by [`decide`] is fixed: its declared
/// shape is fully known, its array has exactly that shape, and the other
/// inputs hold `samples` samples, which its first axis does not match.
pub(crate) fn looks_fixed(declared: Option<&[Dim]>, got: &[usize], samples: Option<usize>) -> bool {
    let Some(declared) = declared else {
        return false;
    };
    let exact = declared.len() == got.len()
        && declared
            .iter()
            .zip(got)
            .all(|(d, &g)| matches!(d, Dim::Known(k) if *k == g));
    exact && samples.is_some_and(|n| got.first() != Some(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_print() {
        let o: BatchAxisOption = "state=1".parse().unwrap();
        assert_eq!((o.input.as_str(), o.axis), ("state", Some(1)));
        let o: BatchAxisOption = "sr=fixed".parse().unwrap();
        assert_eq!(o.axis, None);
        assert_eq!(o.to_string(), "sr=fixed");
        assert!("state".parse::<BatchAxisOption>().is_err());
        assert!("=1".parse::<BatchAxisOption>().is_err());
        assert!("state=-1".parse::<BatchAxisOption>().is_err());
    }

    #[test]
    fn fixed_needs_an_exact_shape_and_another_sample_count() {
        let d = [Dim::Known(1), Dim::Known(128)];
        assert!(looks_fixed(Some(&d), &[1, 128], Some(3)));
        assert!(!looks_fixed(Some(&d), &[1, 128], Some(1)));
        assert!(!looks_fixed(Some(&d), &[1, 128], None));
        assert!(!looks_fixed(Some(&d), &[3, 128], Some(3)));
        let named = [Dim::Named("n".into()), Dim::Known(128)];
        assert!(!looks_fixed(Some(&named), &[1, 128], Some(3)));
    }
}

//! Which outputs a candidate is judged on, which metric judges it (chosen
//! from the data and the output shapes when not given), and the refusal
//! of metrics that cannot tell candidates apart. The arithmetic of the
//! metrics is `wdq_plan::metric`'s.

use super::QuantizeError;
use crate::data::Dataset;
use crate::evaluate::{run_batch, run_batches, EvalError};
use ndarray::ArrayD;
use wdq_exec::plan::Plan;
pub use wdq_plan::metric::Metric;
use wdq_plan::metric::{combine, combine_scaled, per_sample, signal_mean, PerSample};

/// The graph outputs a metric reads: their indices and names.
#[derive(Clone, Debug)]
pub struct OutputSet {
    pub indices: Vec<usize>,
    pub names: Vec<String>,
}

impl OutputSet {
    /// Resolves `--metric-output` names (empty: the first output).
    ///
    /// # Errors
    /// [`QuantizeError::UnknownOutput`] naming the outputs there are.
    pub fn resolve(plan: &Plan, wanted: &[String]) -> Result<OutputSet, QuantizeError> {
        let names: Vec<String> = plan.output_names().iter().map(|n| n.to_string()).collect();
        if wanted.is_empty() {
            return Ok(OutputSet {
                indices: vec![0],
                names: names.into_iter().take(1).collect(),
            });
        }
        let mut indices = Vec::new();
        for w in wanted {
            let i =
                names
                    .iter()
                    .position(|n| n == w)
                    .ok_or_else(|| QuantizeError::UnknownOutput {
                        name: w.clone(),
                        outputs: names.join(", "),
                    })?;
            indices.push(i);
        }
        Ok(OutputSet {
            indices,
            names: wanted.to_vec(),
        })
    }

    /// Runs `plan` on `data` and keeps the judged outputs.
    ///
    /// # Errors
    /// [`EvalError`] from execution.
    pub fn run(
        &self,
        plan: &Plan,
        data: &Dataset,
        batch_size: usize,
    ) -> Result<Vec<ArrayD<f32>>, EvalError> {
        Ok(self.pick(run_batches(plan, data, batch_size)?, data))
    }

    /// Runs `plan` on samples `start..end` of `data` and keeps the judged
    /// outputs (one batch of [`OutputSet::run`]).
    ///
    /// # Errors
    /// [`EvalError`] from execution.
    pub fn run_batch(
        &self,
        plan: &Plan,
        data: &Dataset,
        start: usize,
        end: usize,
    ) -> Result<Vec<ArrayD<f32>>, EvalError> {
        Ok(self.pick(run_batch(plan, data, start, end)?, data))
    }

    /// The judged outputs, each with its samples moved to axis 0.
    fn pick(&self, mut all: Vec<ArrayD<f32>>, data: &Dataset) -> Vec<ArrayD<f32>> {
        self.indices
            .iter()
            .map(|&i| {
                let out = std::mem::replace(&mut all[i], ArrayD::zeros(vec![0]));
                samples_first(out, data.output_axes.get(i).copied().unwrap_or(0))
            })
            .collect()
    }
}

/// `output` with its batch axis `axis` moved to the front (the figures are
/// per sample, along axis 0).
fn samples_first(output: ArrayD<f32>, axis: usize) -> ArrayD<f32> {
    if axis == 0 || axis >= output.ndim() {
        return output;
    }
    let mut order: Vec<usize> = (0..output.ndim()).collect();
    order.remove(axis);
    order.insert(0, axis);
    output
        .permuted_axes(order)
        .as_standard_layout()
        .into_owned()
}

/// The class count of a classifier-shaped output (`[N, C]` or
/// `[N, C, 1, 1]`), or None.
pub fn classes(shape: &[usize]) -> Option<usize> {
    match shape {
        [_, c] | [_, c, 1, 1] => Some(*c),
        _ => None,
    }
}

/// The default metric: top-1 with labels and a classifier output,
/// agreement for a classifier output (`[N, C]`, C > 1, also `[N, C, 1, 1]`)
/// without labels, SQNR otherwise.
pub fn default_metric(outputs: &[ArrayD<f32>], labelled: bool) -> Metric {
    let classifier = outputs
        .iter()
        .all(|o| classes(o.shape()).is_some_and(|c| c > 1));
    match (classifier, labelled) {
        (true, true) => Metric::Top1,
        (true, false) => Metric::Agreement,
        (false, _) => Metric::Sqnr,
    }
}

/// Refuses a metric that cannot tell candidates apart on these reference
/// outputs, saying which to use instead.
///
/// # Errors
/// [`QuantizeError::VacuousMetric`] or [`QuantizeError::NeedsLabels`].
pub fn check(
    metric: Metric,
    judged: &OutputSet,
    outputs: &[ArrayD<f32>],
    labelled: bool,
) -> Result<(), QuantizeError> {
    if metric == Metric::Top1 && !labelled {
        return Err(QuantizeError::NeedsLabels {
            metric: metric.name(),
        });
    }
    for (name, out) in judged.names.iter().zip(outputs) {
        let vacuous = |why: String, instead: &str| QuantizeError::VacuousMetric {
            metric: metric.name(),
            output: name.clone(),
            why,
            instead: instead.to_string(),
        };
        let first = out.iter().next().copied().unwrap_or(0.0);
        if out.iter().all(|&x| x == first) {
            return Err(vacuous(
                format!(
                    "the original model gives the same value ({first}) for every element of every validation sample: it carries nothing about the inputs to measure"
                ),
                "another output (--metric-output), or data on which it varies",
            ));
        }
        if metric.is_accuracy() {
            let shape = out.shape();
            match classes(shape) {
                None => {
                    return Err(vacuous(
                        format!("its shape {shape:?} is not [N, classes] or [N, classes, 1, 1]"),
                        "sqnr, rel-l2 or cosine",
                    ))
                }
                Some(1) => {
                    return Err(vacuous(
                        "it has one column, whose argmax is always 0: every candidate agrees"
                            .to_string(),
                        "sqnr, rel-l2 or cosine",
                    ))
                }
                Some(c) if metric == Metric::Top5Agreement && c <= 5 => {
                    return Err(vacuous(
                        format!("it has {c} classes: every class is in the top 5"),
                        "agreement",
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Per-sample figures of `candidate` against `reference` (the judged
/// outputs of each), several outputs combined.
pub fn figures(
    metric: Metric,
    reference: &[ArrayD<f32>],
    candidate: &[ArrayD<f32>],
    labels: Option<&[i64]>,
) -> PerSample {
    combine(parts(metric, reference, 0, candidate, labels))
}

/// [`figures`] of a candidate's outputs on the samples from `start` on
/// (`candidate` holds only those rows), scaled by `means` ([`signal_means`]
/// of the reference): each sample's figures are the ones [`figures`] gives
/// it on the whole set.
pub fn figures_from(
    metric: Metric,
    reference: &[ArrayD<f32>],
    start: usize,
    candidate: &[ArrayD<f32>],
    labels: Option<&[i64]>,
    means: &[Option<f64>],
) -> PerSample {
    combine_scaled(parts(metric, reference, start, candidate, labels), means)
}

/// Each judged output's mean reference energy over all samples (what
/// [`figures`] scales the fidelity figures by).
pub fn signal_means(metric: Metric, reference: &[ArrayD<f32>]) -> Vec<Option<f64>> {
    parts(metric, reference, 0, reference, None)
        .iter()
        .map(signal_mean)
        .collect()
}

fn parts(
    metric: Metric,
    reference: &[ArrayD<f32>],
    start: usize,
    candidate: &[ArrayD<f32>],
    labels: Option<&[i64]>,
) -> Vec<PerSample> {
    reference
        .iter()
        .zip(candidate)
        .map(|(r, c)| {
            let n = r.shape().first().copied().unwrap_or(0).max(1);
            let width = r.len() / n;
            let rows = c.len() / width.max(1);
            let r: Vec<f32> = r
                .iter()
                .copied()
                .skip(start * width)
                .take(rows * width)
                .collect();
            let c: Vec<f32> = c.iter().copied().collect();
            let labels = labels.map(|l| &l[start.min(l.len())..]);
            per_sample(metric, &r, &c, width, labels)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> OutputSet {
        OutputSet {
            indices: vec![0],
            names: vec!["y".to_string()],
        }
    }

    fn refusal(metric: Metric, out: ArrayD<f32>, labelled: bool) -> String {
        match check(metric, &set(), &[out], labelled) {
            Err(e) => e.to_string(),
            Ok(()) => String::new(),
        }
    }

    #[test]
    fn vacuous_metrics_are_refused_with_what_to_use() {
        let varied = |shape: &[usize]| {
            ArrayD::from_shape_vec(
                shape.to_vec(),
                (0..shape.iter().product::<usize>())
                    .map(|i| i as f32)
                    .collect(),
            )
            .unwrap()
        };
        let one_column = refusal(Metric::Agreement, varied(&[4, 1]), false);
        assert!(
            one_column.contains("one column") && one_column.contains("use sqnr"),
            "{one_column}"
        );
        let map = refusal(Metric::Top1, varied(&[4, 1, 3, 3]), true);
        assert!(map.contains("not [N, classes]"), "{map}");
        let five = refusal(Metric::Top5Agreement, varied(&[4, 5]), false);
        assert!(
            five.contains("5 classes") && five.contains("use agreement"),
            "{five}"
        );
        let constant = refusal(Metric::Sqnr, ArrayD::from_elem(vec![4, 8], 0.5), false);
        assert!(constant.contains("same value (0.5)"), "{constant}");
        let unlabelled = refusal(Metric::Top1, varied(&[4, 10]), false);
        assert!(unlabelled.contains("needs labels"), "{unlabelled}");
        // Classifier shapes, also [N, C, 1, 1], pass; and choose the default.
        assert_eq!(
            refusal(Metric::Top5Agreement, varied(&[4, 10, 1, 1]), false),
            ""
        );
        assert_eq!(
            default_metric(&[varied(&[4, 10, 1, 1])], false),
            Metric::Agreement
        );
        assert_eq!(default_metric(&[varied(&[4, 10])], true), Metric::Top1);
        assert_eq!(default_metric(&[varied(&[4, 1])], true), Metric::Sqnr);
        assert_eq!(
            default_metric(&[varied(&[4, 1, 1, 24])], false),
            Metric::Sqnr
        );
    }
}

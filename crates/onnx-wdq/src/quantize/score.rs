//! The built-in [`Evaluator`]: the metric of the options (or the one chosen
//! from the data and the output shapes) on validation data, run by
//! wdq-exec batch by batch. Asked by the search whether a candidate meets
//! its [`Bar`], it stops after the batch that makes the answer certain
//! (`wdq_plan::early` says when, and why that is exact), unless the options
//! ask for full evaluations (`--full-eval`). Batches are the same whether
//! it stops or not, so every sample's outputs are the same numbers.

use super::metric::{check, default_metric, figures, figures_from, signal_means, OutputSet};
use super::{Evaluator, Metric, QuantizeError, QuantizeOptions};
use crate::data::Dataset;
use ndarray::{ArrayD, Axis};
use serde::Serialize;
use std::time::Instant;
use wdq_exec::plan::Plan;
use wdq_ir::Model;
use wdq_plan::early::{append, verdict};
use wdq_plan::metric::{judge, Judged, PerSample};
use wdq_plan::stats::paired_loss;
use wdq_plan::{Bar, Goal, Measure, Stopped};

/// The built-in evaluator, with each score's resolution and 95% interval.
pub struct ValidationScore<'a> {
    val: &'a Dataset,
    /// The metric (given, or chosen from the data and the outputs).
    pub metric: Metric,
    /// The outputs the metric reads.
    pub outputs: OutputSet,
    /// What candidates' outputs are compared with: the original model's
    /// (the truth of the agreement metrics; fidelity metrics' reference
    /// until [`Evaluator::use_reference`]).
    truth: Vec<ArrayD<f32>>,
    /// The reference model's figures per sample (the paired side of the
    /// loss interval; its energies bound the fidelity metrics).
    reference: PerSample,
    /// Each judged output's mean reference energy (fidelity scaling).
    means: Vec<Option<f64>>,
    /// The last judged score's resolution.
    resolution: Option<f64>,
    batch_size: usize,
    early_stop: bool,
    work: EvalWork,
    /// Runs kept to be resumed: the last stopped candidate that met the
    /// bar, the last that did not (the search may choose either and then
    /// needs its full figure), and the reference's full run.
    kept: Vec<Partial>,
}

/// The validation work of an evaluator: runs, and samples run against
/// what running every sample of each would take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct EvalWork {
    /// Models evaluated (a resumed run is not counted again).
    pub evaluations: usize,
    pub samples: usize,
    /// `evaluations` times the validation set's size.
    pub full_samples: usize,
    /// Seconds spent running batches.
    pub seconds: f64,
}

impl EvalWork {
    /// The work done since `before`.
    pub fn since(self, before: EvalWork) -> EvalWork {
        EvalWork {
            evaluations: self.evaluations - before.evaluations,
            samples: self.samples - before.samples,
            full_samples: self.full_samples - before.full_samples,
            seconds: self.seconds - before.seconds,
        }
    }

    /// An estimate of the seconds the samples not run would have taken, at
    /// the measured cost per sample run.
    pub fn seconds_saved(&self) -> f64 {
        let skipped = self.full_samples.saturating_sub(self.samples);
        self.seconds / self.samples.max(1) as f64 * skipped as f64
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kept {
    Met,
    Missed,
    Reference,
}

/// A run cut short (or a full one kept): its model, the judged outputs of
/// its batches and the figures of the samples they cover.
struct Partial {
    model: Model,
    batches: Vec<Vec<ArrayD<f32>>>,
    seen: PerSample,
    kind: Kept,
}

/// How a run ended: every batch's judged outputs, or stopped with a
/// measure over the samples seen (its batches kept, none returned).
type Run = (Vec<Vec<ArrayD<f32>>>, Option<Measure>);

/// Batches' judged outputs joined along the sample axis, output by output
/// (what one run over all samples gives).
fn joined(batches: &[Vec<ArrayD<f32>>]) -> Vec<ArrayD<f32>> {
    let outputs = batches.first().map_or(0, Vec::len);
    (0..outputs)
        .map(|j| {
            let views: Vec<_> = batches.iter().map(|b| b[j].view()).collect();
            ndarray::concatenate(Axis(0), &views).unwrap_or_else(|_| ArrayD::zeros(vec![0]))
        })
        .collect()
}

impl<'a> ValidationScore<'a> {
    /// Runs `base` on `val`, chooses the metric when the options give none
    /// and refuses one that needs labels it lacks or cannot tell candidates
    /// apart.
    ///
    /// # Errors
    /// [`QuantizeError`] naming the metric and the output; execution errors
    /// of `base`.
    pub fn new(
        base: &Model,
        val: &'a Dataset,
        options: &QuantizeOptions,
    ) -> Result<ValidationScore<'a>, QuantizeError> {
        let plan = Plan::new(base)?;
        let outputs = OutputSet::resolve(&plan, &options.metric_outputs)?;
        let truth = outputs.run(&plan, val, options.eval_batch_size)?;
        let labelled = val.labels.is_some();
        let metric = options
            .metric
            .unwrap_or_else(|| default_metric(&truth, labelled));
        check(metric, &outputs, &truth, labelled)?;
        let reference = figures(metric, &truth, &truth, val.labels.as_deref());
        let means = signal_means(metric, &truth);
        Ok(ValidationScore {
            val,
            metric,
            outputs,
            truth,
            reference,
            means,
            resolution: None,
            batch_size: options.eval_batch_size,
            early_stop: options.early_stop,
            work: EvalWork::default(),
            kept: Vec::new(),
        })
    }

    /// The judged outputs of `model` on the validation data.
    ///
    /// # Errors
    /// [`QuantizeError`] from execution.
    pub fn run(&self, model: &Model) -> Result<Vec<ArrayD<f32>>, QuantizeError> {
        Ok(self
            .outputs
            .run(&Plan::new(model)?, self.val, self.batch_size)?)
    }

    /// [`ValidationScore::run`], batch by batch, counted in the work and
    /// resuming a kept run of the same model.
    fn run_batches(&mut self, model: &Model) -> Result<Vec<Vec<ArrayD<f32>>>, QuantizeError> {
        Ok(self.run_until(model, None)?.0)
    }

    /// Runs `model` batch by batch (resuming a kept run of the same model);
    /// with `bar` and early stopping on, stops after the batch whose
    /// figures make the answer certain.
    fn run_until(&mut self, model: &Model, bar: Option<&Bar>) -> Result<Run, QuantizeError> {
        let n = self.val.len;
        let step = self.batch_size.max(1);
        let watch = bar.filter(|_| self.early_stop);
        let (mut batches, mut seen) = match self.kept.iter().position(|p| p.model == *model) {
            Some(i) => {
                let p = self.kept.remove(i);
                (p.batches, p.seen)
            }
            None => {
                self.work.evaluations += 1;
                self.work.full_samples += n;
                (Vec::new(), PerSample::Hits(Vec::new()))
            }
        };
        let mut start: usize = batches
            .iter()
            .map(|b| b.first().map_or(0, |a| a.len_of(Axis(0))))
            .sum();
        if start >= n {
            return Ok((batches, None));
        }
        let plan = Plan::new(model)?;
        let clock = Instant::now();
        while start < n {
            let end = (start + step).min(n);
            let out = self.outputs.run_batch(&plan, self.val, start, end)?;
            self.work.samples += end - start;
            if let Some(bar) = watch.filter(|_| end < n) {
                let labels = self.val.labels.as_deref();
                let figs = figures_from(self.metric, &self.truth, start, &out, labels, &self.means);
                append(&mut seen, figs);
                batches.push(out);
                if let Some(accepted) = verdict(self.metric, bar, &self.reference, &seen) {
                    self.work.seconds += clock.elapsed().as_secs_f64();
                    let all: Vec<usize> = (0..end).collect();
                    let measure = Measure {
                        score: seen.figure(self.metric, &all),
                        interval: None,
                        stopped: Some(Stopped {
                            accepted,
                            samples: end,
                        }),
                    };
                    let kind = if accepted { Kept::Met } else { Kept::Missed };
                    self.keep(Partial {
                        model: model.clone(),
                        batches,
                        seen,
                        kind,
                    });
                    return Ok((Vec::new(), Some(measure)));
                }
            } else {
                batches.push(out);
            }
            start = end;
        }
        self.work.seconds += clock.elapsed().as_secs_f64();
        Ok((batches, None))
    }

    /// Keeps `partial` in place of the one of its kind.
    fn keep(&mut self, partial: Partial) {
        self.kept.retain(|p| p.kind != partial.kind);
        self.kept.push(partial);
    }

    /// Per-sample figures of a model whose judged outputs are `outputs`.
    pub fn figures(&self, outputs: &[ArrayD<f32>]) -> PerSample {
        figures(
            self.metric,
            &self.truth,
            outputs,
            self.val.labels.as_deref(),
        )
    }

    fn decide_or_measure(
        &mut self,
        model: &Model,
        bar: Option<&Bar>,
    ) -> Result<Measure, QuantizeError> {
        let (batches, stopped) = self.run_until(model, bar)?;
        if let Some(measure) = stopped {
            return Ok(measure);
        }
        let judged = self.judge_outputs(&joined(&batches));
        self.resolution = Some(judged.resolution);
        Ok(Measure::full(judged.score, Some(judged.interval)))
    }

    fn judge_outputs(&self, outputs: &[ArrayD<f32>]) -> Judged {
        let hits = match &self.reference {
            PerSample::Hits(h) => Some(h.as_slice()),
            PerSample::Fidelity { .. } => None,
        };
        judge(self.metric, &self.figures(outputs), hits)
    }

    /// The figure of `model` with its resolution and 95% interval (for
    /// accuracy metrics, paired with the reference's per-sample hits).
    ///
    /// # Errors
    /// [`QuantizeError`] from execution.
    pub fn judge(&self, model: &Model) -> Result<Judged, QuantizeError> {
        Ok(self.judge_outputs(&self.run(model)?))
    }

    /// The metric of `model` (percent for the accuracy metrics).
    ///
    /// # Errors
    /// [`QuantizeError`] from execution.
    pub fn accuracy(&self, model: &Model) -> Result<f64, QuantizeError> {
        let all: Vec<usize> = (0..self.val.len).collect();
        Ok(self.figures(&self.run(model)?).figure(self.metric, &all))
    }
}

impl Evaluator for ValidationScore<'_> {
    fn score(&mut self, model: &Model) -> Result<f64, QuantizeError> {
        self.accuracy(model)
    }

    fn higher_is_better(&self) -> bool {
        self.metric.higher_is_better()
    }

    fn metric(&self) -> String {
        self.metric.label().to_string()
    }

    fn measure(&mut self, model: &Model) -> Result<Measure, QuantizeError> {
        self.decide_or_measure(model, None)
    }

    fn decide(&mut self, model: &Model, bar: &Bar) -> Result<Measure, QuantizeError> {
        self.decide_or_measure(model, Some(bar))
    }

    fn work(&self) -> Option<EvalWork> {
        Some(self.work)
    }

    fn goal(&self) -> Goal {
        match self.metric {
            m if m.is_accuracy() => Goal::Loss,
            Metric::RelL2 => Goal::AtMost,
            _ => Goal::AtLeast,
        }
    }

    fn default_threshold(&self) -> Option<f64> {
        Some(self.metric.default_threshold())
    }

    fn unit(&self) -> String {
        match self.metric.unit() {
            "%" => "% (losses in points)".to_string(),
            "" => "ratio".to_string(),
            u => u.to_string(),
        }
    }

    fn use_reference(&mut self, model: &Model) -> Result<(), QuantizeError> {
        let batches = self.run_batches(model)?;
        let outputs = joined(&batches);
        // The search measures this model next: keep its outputs.
        self.keep(Partial {
            model: model.clone(),
            batches,
            seen: PerSample::Hits(Vec::new()),
            kind: Kept::Reference,
        });
        if self.metric.is_accuracy() {
            self.reference = self.figures(&outputs);
        } else {
            self.truth = outputs;
            self.reference = figures(self.metric, &self.truth, &self.truth, None);
            self.means = signal_means(self.metric, &self.truth);
        }
        Ok(())
    }

    fn resolution(&self) -> Option<f64> {
        self.resolution
    }

    fn warnings(&self, threshold: f64, guard: bool) -> Vec<String> {
        if !self.metric.is_accuracy() {
            return Vec::new();
        }
        let n = self.val.len;
        let resolution = 100.0 / n.max(1) as f64;
        let mut out = Vec::new();
        if threshold < resolution {
            out.push(format!(
                "the threshold of {threshold} points is below the resolution of {n} validation samples ({resolution:.2} points per sample): only candidates that lose no sample on balance fit"
            ));
        }
        let unchanged = vec![true; n];
        let (_, interval) = paired_loss(&unchanged, &unchanged);
        if interval.high > threshold {
            out.push(format!(
                "{n} validation samples are too few for a threshold of {threshold} points: even a candidate that changes no prediction has a 95% upper bound of {:.2} points on its loss{}",
                interval.high,
                if guard {
                    ", so --guard accepts no low-bit layer"
                } else {
                    " (--guard would accept none)"
                }
            ));
        }
        out
    }
}

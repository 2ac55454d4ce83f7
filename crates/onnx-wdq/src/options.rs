//! Turning command-line arguments into the library's typed options. Every
//! argument is used here or in `main.rs`.

use crate::cli::{CandidateArgs, CompareArgs, QuantizeArgs, TrainArgs};
use anyhow::{bail, Context, Result};
use onnx_wdq::compare::{CompareOptions, Criterion};
use onnx_wdq::quantize::{Metric, QuantizeOptions, Reference};
use onnx_wdq::target::LowerChoices;
use std::time::Duration;
use wdq_lower::Target;
use wdq_plan::Selection;
use wdq_quant::calibrate::CalibrationMethod;
use wdq_quant::{QuantSpec, ScaleMode};
use wdq_train::{LabelFree, Statistic, TrainOptions};

/// Fine-tuning options and the ranking statistic.
pub fn train_options(args: &TrainArgs) -> Result<(TrainOptions, Statistic)> {
    let statistic = Statistic::parse(&args.statistic).context("unknown --statistic")?;
    let label_free = LabelFree::parse(&args.label_free).with_context(|| {
        format!(
            "--label-free must be auto, pseudo-labels, input-noise[:SIGMA], target-noise[:SIGMA] or distill (SIGMA > 0), not `{}`",
            args.label_free
        )
    })?;
    let options = TrainOptions {
        cycles: args.cycles as usize,
        steps_per_cycle: args.steps_per_cycle.map(|n| n as usize),
        learning_rate: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        batch_size: args.batch_size as usize,
        seed: args.seed,
        include_bias: args.include_bias,
        train_batchnorm_affine: args.train_batchnorm_affine,
        label_free,
    };
    Ok((options, statistic))
}

/// Parses `bisect`, `halving`, `count:N` or `threshold:S`.
pub fn selection(text: &str, min_candidates: Option<usize>) -> Result<Selection> {
    let selection = match text.split_once(':') {
        None if text == "bisect" => Selection::Bisect,
        None if text == "halving" => Selection::Halving { min_candidates },
        Some(("count", n)) => Selection::Count {
            n: n.parse().with_context(|| format!("--select count:{n}"))?,
        },
        Some(("threshold", s)) => Selection::Threshold {
            max_statistic: match s.parse::<f64>() {
                Ok(x) if x.is_finite() => x,
                _ => bail!("--select threshold:{s}: S must be a finite number"),
            },
        },
        _ => bail!("--select must be bisect, halving, count:N or threshold:S, not `{text}`"),
    };
    if min_candidates.is_some() && !matches!(selection, Selection::Halving { .. }) {
        bail!("--min-candidates only applies to --select halving");
    }
    Ok(selection)
}

/// Parses `minmax`, `percentile[:P]` or `mse` for activations of `spec`.
pub fn calibration(
    text: &str,
    spec: Option<QuantSpec>,
    scale: ScaleMode,
) -> Result<CalibrationMethod> {
    Ok(match text.split_once(':') {
        None if text == "minmax" => CalibrationMethod::MinMax,
        None if text == "percentile" => CalibrationMethod::Percentile {
            percentile: 99.99,
            symmetric: false,
        },
        Some(("percentile", p)) => {
            let percentile: f64 = p
                .parse()
                .with_context(|| format!("--calibration percentile:{p}"))?;
            if !(50.0..=100.0).contains(&percentile) {
                bail!("--calibration percentile:{p}: the percentile must be in 50..=100");
            }
            CalibrationMethod::Percentile {
                percentile,
                symmetric: false,
            }
        }
        None if text == "mse" => CalibrationMethod::Mse {
            spec: spec.unwrap_or(QuantSpec::UINT8),
            mode: scale,
            symmetric: false,
        },
        _ => bail!("--calibration must be minmax, percentile[:P] or mse, not `{text}`"),
    })
}

/// Every option of the main command except the data.
pub fn quantize_options(args: &QuantizeArgs) -> Result<QuantizeOptions> {
    let time_budget = match args.time_budget.map(Duration::try_from_secs_f64) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => bail!("--time-budget must be a non-negative number of seconds: {e}"),
        None => None,
    };
    let mut options = candidate_options(&args.train_args, &args.candidate)?;
    if args.eval_command.is_some() && args.candidate.metric.is_some() {
        bail!("--metric and --eval-command exclude each other: the command's score judges the candidates");
    }
    options.selection = selection(&args.select, args.min_candidates)?;
    options.skip_smallest = args.skip_smallest;
    options.time_budget = time_budget;
    options.early_stop = !args.full_eval;
    Ok(options)
}

/// Every option of `compare` except the data and the output folder.
pub fn compare_options(args: &CompareArgs) -> Result<CompareOptions> {
    Ok(CompareOptions {
        quantize: candidate_options(&args.train, &args.candidate)?,
        criteria: Criterion::parse_list(&args.criteria)?,
        stride: args.stride as usize,
        random_orders: args.random_orders as usize,
        gradient_batches: args.gradient_batches as usize,
    })
}

/// Training, lowering and measurement options; the search settings are the
/// main command's defaults (bisect, no skip, no time budget).
fn candidate_options(train_args: &TrainArgs, args: &CandidateArgs) -> Result<QuantizeOptions> {
    let (train, statistic) = train_options(train_args)?;
    let target =
        Target::parse(&args.target).with_context(|| format!("unknown --target {}", args.target))?;
    let lower = onnx_wdq::target::lower_options(
        target,
        &LowerChoices {
            granularity: args.granularity.as_deref(),
            scale: args.scale.as_deref(),
            bias: args.bias.as_deref(),
            activations: args.activations.as_deref(),
            int4_storage: args.int4_storage.as_deref(),
            weight_range: args.weight_range.as_deref(),
        },
    )?;
    let metric = match args.metric.as_deref() {
        Some(name) => {
            Some(Metric::parse(name).with_context(|| format!("unknown --metric {name}"))?)
        }
        None => None,
    };
    if let Some(t) = args.threshold.filter(|t| !t.is_finite()) {
        bail!("--threshold must be a finite number, not {t}");
    }
    Ok(QuantizeOptions {
        train,
        statistic,
        selection: Selection::Bisect,
        threshold: args.threshold,
        guard: args.guard,
        skip_smallest: false,
        time_budget: None,
        reference: if args.reference == "high" {
            Reference::High
        } else {
            Reference::Fp32
        },
        metric,
        metric_outputs: args.metric_output.clone(),
        low_bits: args.low_bits,
        high_bits: args.high_bits,
        target,
        lower,
        calibration: calibration(&args.calibration, lower.activations.spec(), lower.scale)?,
        calibration_samples: args.calibration_samples,
        eval_batch_size: args.eval_batch_size as usize,
        early_stop: true,
    })
}

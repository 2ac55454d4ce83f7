//! The `onnx-wdq` command.

mod cli;
mod options;
mod progress;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{AnalyzeArgs, Cli, Command, ConvertArgs, EvalArgs, InspectArgs, QuantizeArgs};
use onnx_wdq::data::{save_npz, Dataset};
use onnx_wdq::evaluate::{evaluate, Evaluation};
use onnx_wdq::inspect::ModelSummary;
use onnx_wdq::required_inputs;
use std::process::ExitCode;
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;

/// Exit code when no candidate met the threshold (documented in `--help`).
const EXIT_THRESHOLD_NOT_MET: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Inspect(args)) => inspect(args).map(|()| ExitCode::SUCCESS),
        Some(Command::Eval(args)) => eval(args).map(|()| ExitCode::SUCCESS),
        Some(Command::Convert(args)) => convert(args).map(|()| ExitCode::SUCCESS),
        Some(Command::Analyze(args)) => analyze(args).map(|()| ExitCode::SUCCESS),
        None => main_command(cli.quantize),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn load(path: &std::path::Path) -> Result<wdq_ir::Model> {
    wdq_onnx::load_model(path).with_context(|| format!("reading model {}", path.display()))
}

fn inspect(args: InspectArgs) -> Result<()> {
    let summary = ModelSummary::of(&load(&args.model)?);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.render());
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    let model = load(&args.model)?;
    let data = Dataset::load(&args.data, &required_inputs(&model))?;
    let plan = Plan::new(&model).with_context(|| format!("preparing {}", args.model.display()))?;
    let batch = args.batch_size as usize;
    let (report, outputs) = evaluate(&plan, &data, batch)
        .with_context(|| format!("running {}", args.model.display()))?;
    if let Some(path) = &args.save_outputs {
        let named: Vec<(String, TensorValue)> = plan
            .output_names()
            .iter()
            .zip(outputs)
            .map(|(n, a)| (n.to_string(), TensorValue::F32(a)))
            .collect();
        save_npz(path, &named)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_evaluation(&report));
    }
    Ok(())
}

fn render_evaluation(e: &Evaluation) -> String {
    let mut s = format!("{} samples in {:.3} s\n", e.samples, e.seconds);
    if let (Some(top1), Some(correct)) = (e.top1_percent, e.correct) {
        s += &format!("top-1 accuracy: {top1:.2}% ({correct}/{})\n", e.samples);
    }
    for o in &e.outputs {
        s += &format!(
            "output {} {:?}: min {:.4} max {:.4} mean {:.4} std {:.4}\n",
            o.name, o.shape, o.min, o.max, o.mean, o.std
        );
    }
    s
}

fn convert(args: ConvertArgs) -> Result<()> {
    let mut model = load(&args.model)?;
    if let Some(target) = args.opset {
        let summary = wdq_onnx::convert_opset(&mut model, target)
            .with_context(|| format!("converting {} to opset {target}", args.model.display()))?;
        let rewritten: Vec<String> = summary
            .rewritten
            .iter()
            .map(|(op, n)| format!("{op} x{n}"))
            .collect();
        eprintln!(
            "opset {} -> {}; rewritten: {}",
            summary.from,
            summary.to,
            if rewritten.is_empty() {
                "none".to_string()
            } else {
                rewritten.join(", ")
            }
        );
    }
    wdq_onnx::save_model(&model, &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}

fn analyze(args: AnalyzeArgs) -> Result<()> {
    let model = load(&args.model)?;
    let data = Dataset::load(&args.data, &required_inputs(&model))?;
    let (options, statistic) = options::train_options(&args.train)?;
    let mut progress = progress::TrainProgress::new(options.cycles, args.train.save_snapshots.clone())?;
    let report = onnx_wdq::analyze::analyze(&model, &data, &options, statistic, &mut progress)
        .with_context(|| format!("fine-tuning {}", args.model.display()))?;
    progress.finish();
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    print!("{}", report.render());
    Ok(())
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    onnx_wdq::files::write_atomically(path, |f| std::io::Write::write_all(f, text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

fn main_command(args: QuantizeArgs) -> Result<ExitCode> {
    let (Some(model_path), Some(output)) = (&args.model, &args.output) else {
        anyhow::bail!("the model and -o/--output are required");
    };
    let model = load(model_path)?;
    let inputs = required_inputs(&model);
    let (train, val) = match (&args.data, &args.train, &args.val) {
        (Some(data), _, _) => {
            let all = Dataset::load(data, &inputs)?;
            all.split(args.val_fraction, args.train_args.seed)
                .with_context(|| format!("splitting {}", data.display()))?
        }
        (None, Some(t), Some(v)) => (Dataset::load(t, &inputs)?, Dataset::load(v, &inputs)?),
        _ => anyhow::bail!("give --data, or --train and --val"),
    };
    let options = options::quantize_options(&args, val.labels.is_some())?;
    let mut progress = progress::TrainProgress::new(options.train.cycles, args.train_args.save_snapshots.clone())?;
    let (quantized, mut report) = onnx_wdq::quantize::quantize(&model, &train, &val, &options, &mut progress)
        .with_context(|| format!("quantizing {}", model_path.display()))?;
    progress.finish();
    let clock = std::time::Instant::now();
    report.sizes.file_before = wdq_onnx::encode_model(&model)?.len();
    report.sizes.file_after = wdq_onnx::encode_model(&quantized)?.len();
    wdq_onnx::save_model(&quantized, output).with_context(|| format!("writing {}", output.display()))?;
    report.seconds.export = clock.elapsed().as_secs_f64();
    if let Some(path) = &args.report {
        write_json(path, &report)?;
    }
    print!("{}", report.render());
    println!("wrote {}", output.display());
    Ok(if report.met_threshold { ExitCode::SUCCESS } else { ExitCode::from(EXIT_THRESHOLD_NOT_MET) })
}

//! The `onnx-wdq` command.

mod cli;
mod progress;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{AnalyzeArgs, Cli, Command, ConvertArgs, EvalArgs, InspectArgs};
use onnx_wdq::data::{save_npz, Dataset};
use onnx_wdq::evaluate::{evaluate, Evaluation};
use onnx_wdq::inspect::ModelSummary;
use onnx_wdq::required_inputs;
use std::process::ExitCode;
use wdq_exec::plan::Plan;
use wdq_exec::TensorValue;
use wdq_train::{Statistic, TrainOptions};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect(args),
        Command::Eval(args) => eval(args),
        Command::Convert(args) => convert(args),
        Command::Analyze(args) => analyze(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
    let statistic = Statistic::parse(&args.statistic).context("unknown statistic")?;
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
    };
    if let Some(dir) = &args.save_snapshots {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut progress = progress::TrainProgress::new(options.cycles, args.save_snapshots.clone());
    let report = onnx_wdq::analyze::analyze(&model, &data, &options, statistic, &mut progress)
        .with_context(|| format!("fine-tuning {}", args.model.display()))?;
    progress.finish();
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        onnx_wdq::files::write_atomically(path, |f| std::io::Write::write_all(f, text.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{}", report.render());
    Ok(())
}

//! The `onnx-wdq` command.

/// mimalloc keeps freed executor buffers for the next run instead of
/// returning them to the OS (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod loading;
mod options;
mod progress;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{
    AnalyzeArgs, CheckArgs, Cli, Command, CompareArgs, ConvertArgs, DataArgs, EvalArgs,
    InspectArgs, QuantizeArgs,
};
use loading::{batch_for, load_data, load_dataset, specialise};
use onnx_wdq::data::{save_npz, DataFile, Dataset};
use onnx_wdq::eval_command::CommandEvaluator;
use onnx_wdq::evaluate::{evaluate, Evaluation};
use onnx_wdq::files;
use onnx_wdq::inspect::ModelSummary;
use onnx_wdq::pipeline;
use onnx_wdq::quantize::{Evaluator, ValidationScore};
use std::path::{Path, PathBuf};
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
        Some(Command::Compare(args)) => compare(args).map(|()| ExitCode::SUCCESS),
        Some(Command::Check(args)) => check(&args),
        None => main_command(cli.quantize),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", printable(&error_chain(&e)));
            ExitCode::from(1)
        }
    }
}

/// `text` with control characters other than newline and tab written as
/// escapes (`\u{1b}`): names come from the model and the data, and a
/// name holding an ANSI sequence must not clear the screen or retitle the
/// terminal. Everything the program prints passes through here.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(bad) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if bad(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// Writes to stdout; a reader that went away (`| head`) ends the program
/// quietly instead of panicking, as command-line tools do.
fn emit(text: &str) {
    use std::io::Write;
    let text = printable(text);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

/// The error and its causes, skipping a cause whose text the message
/// before it already quotes (library errors print their source inline).
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

/// The import stage (load, fold constants) for every command but
/// `convert`, which writes the model as it was read: imports the model at
/// `path` and checks that no output overwrites one of
/// the external data files it names (the model itself and the data were
/// checked before loading).
fn load(path: &Path, outputs: &[(&str, &Path)]) -> Result<wdq_ir::Model> {
    let (model, files) = pipeline::import_and_files(path)
        .with_context(|| format!("reading model {}", path.display()))?;
    check_external_files(&files, outputs)?;
    Ok(model)
}

fn check_external_files(files: &[PathBuf], outputs: &[(&str, &Path)]) -> Result<()> {
    let inputs: Vec<(&str, &Path)> = files
        .iter()
        .map(|f| ("the model's external data", f.as_path()))
        .collect();
    files::check_not_inputs(&inputs, outputs)?;
    Ok(())
}

fn inspect(args: InspectArgs) -> Result<()> {
    let mut model = load(&args.model, &[])?;
    let ifs = match &args.data {
        Some(path) => {
            let data = Dataset::load_for(path, &model, &args.batch_axis)?;
            data.check_shapes(path, &model)?;
            specialise(&mut model, &data.fixed_inputs())?
        }
        None if !args.batch_axis.is_empty() => {
            anyhow::bail!("--batch-axis needs --data: it says how the data's arrays are laid out")
        }
        None => specialise(&mut model, &[])?,
    };
    let summary = ModelSummary::of(&model, ifs);
    if args.json {
        emit(&(serde_json::to_string_pretty(&summary)? + "\n"));
    } else {
        emit(&summary.render());
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    if let Some(path) = &args.save_outputs {
        files::check_outputs(
            &[("the model", &args.model), ("--data", &args.data)],
            &[("--save-outputs", path)],
        )?;
    }
    let outputs: Vec<(&str, &Path)> = args
        .save_outputs
        .iter()
        .map(|p| ("--save-outputs", p.as_path()))
        .collect();
    let mut model = load(&args.model, &outputs)?;
    let data = load_dataset(&mut model, &args.data, &args.batch_axis)?;
    let plan = Plan::new(&model).with_context(|| format!("preparing {}", args.model.display()))?;
    let batch = batch_for(&model, &data, args.batch_size as usize);
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
        emit(&(serde_json::to_string_pretty(&report)? + "\n"));
    } else {
        emit(&render_evaluation(&report));
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
    files::check_outputs(&[("the input model", &args.model)], &[("-o", &args.output)])?;
    let (mut model, files) = wdq_onnx::load_model_and_files(&args.model)
        .with_context(|| format!("reading model {}", args.model.display()))?;
    check_external_files(&files, &[("-o", &args.output)])?;
    if let Some(target) = args.opset {
        let summary = wdq_onnx::convert_opset(&mut model, target)
            .with_context(|| format!("converting {} to opset {target}", args.model.display()))?;
        let rewritten: Vec<String> = summary
            .rewritten
            .iter()
            .map(|(op, n)| format!("{op} x{n}"))
            .collect();
        let rewritten = if rewritten.is_empty() {
            "none".to_string()
        } else {
            rewritten.join(", ")
        };
        eprintln!(
            "opset {} -> {}; rewritten: {}",
            summary.from,
            summary.to,
            printable(&rewritten)
        );
    }
    wdq_onnx::save_model(&model, &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}

/// `check`: exit 0 when the model meets the profile, 1 with the violations.
fn check(args: &CheckArgs) -> Result<ExitCode> {
    let target = wdq_lower::Target::parse(&args.target)
        .with_context(|| format!("unknown --target {}", args.target))?;
    let report = onnx_wdq::check::check_file(&args.model, target)?;
    emit(&onnx_wdq::check::render(&args.model, target, &report));
    Ok(if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn analyze(args: AnalyzeArgs) -> Result<()> {
    if let Some(path) = &args.json {
        files::check_outputs(
            &[("the model", &args.model), ("--data", &args.data)],
            &[("--json", path)],
        )?;
    }
    let outputs: Vec<(&str, &Path)> = args.json.iter().map(|p| ("--json", p.as_path())).collect();
    let mut model = load(&args.model, &outputs)?;
    let data = load_dataset(&mut model, &args.data, &args.batch_axis)?;
    let (mut options, statistic) = options::train_options(&args.train)?;
    options.batch_size = batch_for(&model, &data, options.batch_size);
    let mut progress =
        progress::TrainProgress::new(options.cycles, args.train.save_snapshots.clone())?;
    let report = onnx_wdq::analyze::analyze(&model, &data, &options, statistic, &mut progress)
        .with_context(|| format!("fine-tuning {}", args.model.display()))?;
    progress.finish();
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    emit(&report.render());
    Ok(())
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    files::write_atomically(path, |f| std::io::Write::write_all(f, text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// `bytes` staged for `path` (see [`files::commit`]).
fn stage(path: &Path, bytes: &[u8]) -> Result<files::Staged> {
    files::stage(path, |f| std::io::Write::write_all(f, bytes))
        .with_context(|| format!("writing {}", path.display()))
}

/// The files a command reads, named as its messages name them.
fn inputs<'a>(model: &'a Path, data: &'a DataArgs) -> Vec<(&'static str, &'a Path)> {
    let mut files = vec![("the input model", model)];
    for (what, path) in [
        ("--data", &data.data),
        ("--train", &data.train),
        ("--val", &data.val),
    ] {
        if let Some(p) = path {
            files.push((what, p.as_path()));
        }
    }
    files
}

fn compare(args: Box<CompareArgs>) -> Result<()> {
    let mut model = load(&args.model, &[])?;
    let (train, val) = load_data(&mut model, &args.data, args.train.seed)?;
    let mut options = options::compare_options(&args)?;
    let quantize = &mut options.quantize;
    quantize.train.batch_size = batch_for(&model, &train, quantize.train.batch_size);
    quantize.eval_batch_size = batch_for(&model, &train, quantize.eval_batch_size);
    if args.train.save_snapshots.is_some() && !options.criteria.iter().any(|c| c.needs_training()) {
        anyhow::bail!(
            "--save-snapshots needs a drift criterion: without one nothing is fine-tuned"
        );
    }
    let mut progress = progress::TrainProgress::new(
        options.quantize.train.cycles,
        args.train.save_snapshots.clone(),
    )?;
    let report = onnx_wdq::compare::compare(&model, &train, &val, &options, &mut progress)
        .with_context(|| format!("comparing criteria on {}", args.model.display()))?;
    progress.finish();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_json(&args.out.join("compare.json"), &report)?;
    let charts = [
        (
            "loss_curves.svg",
            Some(onnx_wdq::compare::plot::loss_curves(&report)?),
        ),
        ("drift.svg", onnx_wdq::compare::plot::drift_bars(&report)?),
        (
            "pareto.svg",
            Some(onnx_wdq::compare::plot::pareto(&report)?),
        ),
    ];
    emit(&report.render());
    let mut written = vec!["compare.json"];
    for (name, svg) in charts {
        let Some(svg) = svg else { continue };
        let path = args.out.join(name);
        files::write_atomically(&path, |f| std::io::Write::write_all(f, svg.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(name);
    }
    emit(&format!(
        "wrote {} in {}\n",
        written.join(", "),
        args.out.display()
    ));
    Ok(())
}

fn main_command(args: QuantizeArgs) -> Result<ExitCode> {
    let (Some(model_path), Some(output)) = (&args.model, &args.output) else {
        anyhow::bail!("the model and -o/--output are required");
    };
    let mut outputs = vec![("-o", output.as_path())];
    if let Some(report) = &args.report {
        outputs.push(("--report", report.as_path()));
    }
    files::check_outputs(&inputs(model_path, &args.data), &outputs)?;
    let mut model = load(model_path, &outputs)?;
    let (train, val) = load_data(&mut model, &args.data, args.train_args.seed)?;
    let mut options = options::quantize_options(&args)?;
    options.train.batch_size = batch_for(&model, &train, options.train.batch_size);
    options.eval_batch_size = batch_for(&model, &train, options.eval_batch_size);
    let mut evaluator: Box<dyn Evaluator + '_> = match &args.eval_command {
        Some(cmd) => Box::new(CommandEvaluator::new(cmd, !args.lower_is_better)?),
        None => Box::new(
            ValidationScore::new(&model, &val, &options)
                .with_context(|| format!("quantizing {}", model_path.display()))?,
        ),
    };
    let mut progress =
        progress::TrainProgress::new(options.train.cycles, args.train_args.save_snapshots.clone())?;
    let mut quantized = pipeline::run(&model, &train, &options, evaluator.as_mut(), &mut progress)
        .with_context(|| format!("quantizing {}", model_path.display()))?;
    progress.finish();
    let bytes = quantized
        .encode(&model)
        .with_context(|| format!("writing {}", output.display()))?;
    let report = quantized.report;
    let mut staged = vec![stage(output, &bytes)?];
    if let Some(path) = &args.report {
        staged.push(stage(
            path,
            (serde_json::to_string_pretty(&report)? + "\n").as_bytes(),
        )?);
    }
    files::commit(staged).map_err(|(path, e)| {
        anyhow::anyhow!("writing {}: {e} (no output was written)", path.display())
    })?;
    emit(&report.render());
    emit(&format!("wrote {}\n", output.display()));
    Ok(if report.met_threshold {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_THRESHOLD_NOT_MET)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_but_lines_kept() {
        let name = "fc1\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}x";
        let text = format!("node `{name}`\n\tok");
        let shown = super::printable(&text);
        assert_eq!(
            shown,
            "node `fc1\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}x`\n\tok"
        );
        assert!(matches!(
            super::printable("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

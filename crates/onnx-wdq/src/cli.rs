//! Command-line interface definitions (clap). Every option here is acted on.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Mixed-precision quantization of ONNX models by weight drift under
/// fine-tuning.
///
/// Exit codes: 0 success; 1 an error (bad input file, unsupported op, I/O);
/// 2 bad command-line usage.
#[derive(Debug, Parser)]
#[command(name = "onnx-wdq", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show opsets, inputs and outputs, an op histogram and the weighted layers.
    Inspect(InspectArgs),
    /// Run a model on data: top-1 accuracy with labels, output statistics without.
    Eval(EvalArgs),
    /// Re-write a model, optionally upgrading its default-domain opset.
    Convert(ConvertArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Print JSON instead of the human report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Data: .npz with one array per graph input (or one array for a
    /// single-input model) and an optional int64 `labels` array; or a .npy.
    #[arg(long)]
    pub data: PathBuf,
    /// Samples per batch.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Print JSON instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// Also write every graph output, keyed by output name, to this .npz.
    #[arg(long, value_name = "NPZ")]
    pub save_outputs: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The ONNX model to read.
    pub model: PathBuf,
    /// Where to write the result (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Upgrade the default-domain opset to this version.
    #[arg(long)]
    pub opset: Option<i64>,
}

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
    /// Fine-tune for K cycles and rank the weighted layers by weight drift.
    Analyze(AnalyzeArgs),
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

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Training data (.npz: inputs keyed by graph input name, optional int64
    /// `labels`; without labels the model distils from its own outputs).
    #[arg(long)]
    pub data: PathBuf,
    /// K: fine-tuning cycles; a weight snapshot is summarised after each.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub cycles: u32,
    /// Optimizer steps per cycle (default: one pass over the data).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps_per_cycle: Option<u32>,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.001)]
    pub lr: f32,
    /// SGD momentum (PyTorch convention).
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f32,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// Samples per optimizer step.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Seed of the sample shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Statistic of the weight differences that ranks the layers.
    #[arg(long, default_value = "mean-square", value_parser = ["mean-square", "mean", "variance", "std", "mean-abs"])]
    pub statistic: String,
    /// Include each layer's bias in its drift statistic.
    #[arg(long)]
    pub include_bias: bool,
    /// Also train BatchNormalization scale and bias (statistics stay frozen).
    #[arg(long)]
    pub train_batchnorm_affine: bool,
    /// Write every cycle's trained tensors to DIR/cycle_K.npz.
    #[arg(long, value_name = "DIR")]
    pub save_snapshots: Option<PathBuf>,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

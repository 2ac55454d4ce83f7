//! Command-line interface definitions (clap). Every option here is acted on.

use clap::{Args, Parser, Subcommand};
use onnx_wdq::layout::BatchAxisOption;
use std::path::PathBuf;

/// Mixed-precision quantization of ONNX models by weight drift under
/// fine-tuning.
///
/// Main command: `onnx-wdq in.onnx -o out.onnx --data d.npz` fine-tunes the
/// model, ranks its layers by weight drift, searches for the layers that can
/// go to --low-bits within --threshold on validation data, and writes a QDQ
/// model.
///
/// Exit codes: 0 success; 1 an error (bad input file, unsupported op, I/O,
/// a failing --eval-command); 2 bad command-line usage; 3 no candidate met
/// the threshold (the model written has every layer at --high-bits), or a
/// direct --select count:N / threshold:S missed a --threshold given with it
/// (the model written is the one asked for).
#[derive(Debug, Parser)]
#[command(name = "onnx-wdq", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub quantize: QuantizeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show opsets, inputs and outputs, an op histogram and the weighted layers.
    Inspect(InspectArgs),
    /// Run a model on data: top-1 accuracy with labels, output statistics without.
    Eval(EvalArgs),
    /// Re-write a model, optionally converting its default-domain opset.
    Convert(ConvertArgs),
    /// Fine-tune for K cycles and rank the weighted layers by weight drift.
    Analyze(AnalyzeArgs),
    /// Compare layer-ordering criteria: loss curves, searches, costs, plots.
    Compare(Box<CompareArgs>),
    /// Check a written model against a target's profile: exit 0, or 1 with
    /// the violations, each naming its node.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The ONNX model to check.
    pub model: PathBuf,
    /// The target whose profile it must meet.
    #[arg(long, value_parser = ["onnxruntime", "qnn", "openvino", "tensorrt", "vitis"])]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Data whose fixed inputs decide the model's If nodes (each specialised
    /// to the branch it takes; see `eval --data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where an input's samples lie when the model does not say (NAME=AXIS),
    /// or NAME=fixed for an input given once and fed whole with every
    /// batch; repeatable. By default a scalar input is fixed, an input
    /// naming the batch dimension has its batch there, and an input whose
    /// array has exactly its fully declared shape while the others hold a
    /// different number of samples is fixed.
    #[arg(long = "batch-axis", value_name = "NAME=AXIS")]
    pub batch_axis: Vec<BatchAxisOption>,
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
    /// Where an input's samples lie when the model does not say (NAME=AXIS),
    /// or NAME=fixed for an input given once and fed whole with every
    /// batch; repeatable. By default a scalar input is fixed, an input
    /// naming the batch dimension has its batch there, and an input whose
    /// array has exactly its fully declared shape while the others hold a
    /// different number of samples is fixed.
    #[arg(long = "batch-axis", value_name = "NAME=AXIS")]
    pub batch_axis: Vec<BatchAxisOption>,
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
    /// Convert the default-domain opset to this version (up to 21; down to 13).
    #[arg(long)]
    pub opset: Option<i64>,
}

/// Fine-tuning options shared by `analyze`, `compare` and the main command.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// K: fine-tuning cycles; a weight snapshot is summarised after each.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub cycles: u32,
    /// Optimizer steps per cycle (default: one pass over the training data).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps_per_cycle: Option<u32>,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.001, allow_negative_numbers = true, value_parser = positive_f32)]
    pub lr: f32,
    /// SGD momentum (PyTorch convention).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = momentum_value)]
    pub momentum: f32,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = non_negative_f32)]
    pub weight_decay: f32,
    /// Samples per optimizer step.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Seed of the sample shuffling (and of the train/validation split).
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
    /// The loss without labels: auto (pseudo-labels for a classifier output
    /// [N, C], input-noise otherwise), pseudo-labels, input-noise[:SIGMA],
    /// target-noise[:SIGMA] or distill (gradients start at zero).
    #[arg(long, default_value = "auto", value_name = "LOSS", value_parser = label_free_value)]
    pub label_free: String,
    /// Write every cycle's trained tensors to DIR/cycle_K.npz.
    #[arg(long, value_name = "DIR")]
    pub save_snapshots: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Training data (.npz: inputs keyed by graph input name, optional int64
    /// `labels`; without labels the model distils from its own outputs).
    #[arg(long)]
    pub data: PathBuf,
    /// Where an input's samples lie when the model does not say (NAME=AXIS),
    /// or NAME=fixed for an input given once and fed whole with every
    /// batch; repeatable. By default a scalar input is fixed, an input
    /// naming the batch dimension has its batch there, and an input whose
    /// array has exactly its fully declared shape while the others hold a
    /// different number of samples is fixed.
    #[arg(long = "batch-axis", value_name = "NAME=AXIS")]
    pub batch_axis: Vec<BatchAxisOption>,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Where the training and validation samples come from (the main command
/// and `compare`).
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Data to split into training and validation samples (--val-fraction).
    #[arg(long, required_unless_present_all = ["train", "val"], conflicts_with_all = ["train", "val"])]
    pub data: Option<PathBuf>,
    /// Training data (with --val).
    #[arg(long, requires = "val")]
    pub train: Option<PathBuf>,
    /// Validation data (with --train).
    #[arg(long, requires = "train")]
    pub val: Option<PathBuf>,
    /// Where an input's samples lie when the model does not say (NAME=AXIS),
    /// or NAME=fixed for an input given once and fed whole with every
    /// batch; repeatable. By default a scalar input is fixed, an input
    /// naming the batch dimension has its batch there, and an input whose
    /// array has exactly its fully declared shape while the others hold a
    /// different number of samples is fixed.
    #[arg(long = "batch-axis", value_name = "NAME=AXIS")]
    pub batch_axis: Vec<BatchAxisOption>,
    /// Fraction of --data held out for validation (seeded by --seed).
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true, value_parser = fraction_value)]
    pub val_fraction: f64,
}

/// How candidates are lowered and measured (the main command and
/// `compare`).
#[derive(Debug, Args)]
pub struct CandidateArgs {
    /// The threshold, in the metric's unit: the largest loss in points for
    /// top1/agreement/top5-agreement (default 1) and for --eval-command
    /// (in its score's unit; required); the least SQNR in dB (default 20),
    /// the least cosine (0.995), the largest rel-l2 (0.1).
    #[arg(long, allow_negative_numbers = true, value_parser = finite_f64)]
    pub threshold: Option<f64>,
    /// Accept a candidate only when the pessimistic end of its 95% interval
    /// (the loss's upper bound) is within the threshold.
    #[arg(long)]
    pub guard: bool,
    /// What the loss is measured against.
    #[arg(long, default_value = "fp32", value_parser = ["fp32", "high"])]
    pub reference: String,
    /// top1 (needs labels), agreement or top5-agreement (with the original
    /// model's top-1), or output fidelity against the reference's outputs:
    /// sqnr (dB), rel-l2, cosine. Default: top1 with labels and agreement
    /// without for a classifier output ([N, C] or [N, C, 1, 1], C > 1),
    /// sqnr otherwise.
    #[arg(long, value_parser = ["top1", "agreement", "top5-agreement", "sqnr", "rel-l2", "cosine"])]
    pub metric: Option<String>,
    /// The model output(s) the metric reads (default: the first); repeat or
    /// separate with commas to combine several.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub metric_output: Vec<String>,
    /// Bit width of the selected layers.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(2..=8))]
    pub low_bits: u8,
    /// Bit width of the other layers.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(2..=8))]
    pub high_bits: u8,
    /// Deployment target: its profile fixes what the others options may
    /// be (defaults: the profile's; see the README's table).
    #[arg(long, default_value = "onnxruntime", value_parser = ["onnxruntime", "qnn", "openvino", "tensorrt", "vitis"])]
    pub target: String,
    /// Weight scale granularity [default: per-channel, per-tensor for vitis].
    #[arg(long, value_parser = ["per-channel", "per-tensor"])]
    pub granularity: Option<String>,
    /// Scales: free floats, or powers of two (fixed point Qm.n) [default:
    /// float, pow2 for vitis].
    #[arg(long, value_parser = ["float", "pow2"])]
    pub scale: Option<String>,
    /// Weight codes: the symmetric grid ([-7, 7] at 4 bits) or the full
    /// signed range ([-8, 7]) [default: symmetric].
    #[arg(long, value_parser = ["symmetric", "full"])]
    pub weight_range: Option<String>,
    /// Bias: int32 with scale s_x * s_w, or left float [default: int32,
    /// float for tensorrt and vitis].
    #[arg(long, value_parser = ["int32", "float"])]
    pub bias: Option<String>,
    /// Activation quantization (16-bit activations are not offered yet:
    /// the executor cannot measure them) [default: u8, i8 with zero point
    /// 0 for tensorrt and vitis].
    #[arg(long, value_parser = ["u8", "i8", "none"])]
    pub activations: Option<String>,
    /// Activation calibration: minmax, percentile[:P] (default 99.99) or mse.
    #[arg(long, default_value = "minmax", value_parser = calibration_value)]
    pub calibration: String,
    /// Training samples used for calibration (and by the sqnr criterion of
    /// `compare`).
    #[arg(long, default_value_t = 512)]
    pub calibration_samples: usize,
    /// 4-bit weights: packed INT4 (opset 21) or int8 containers [default:
    /// packed].
    #[arg(long, value_parser = ["packed", "int8"])]
    pub int4_storage: Option<String>,
    /// Batch size of validation and calibration runs.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub eval_batch_size: u32,
}

/// The main command's arguments.
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// The ONNX model to quantize.
    #[arg(required = true)]
    pub model: Option<PathBuf>,
    /// Where to write the QDQ model (written atomically).
    #[arg(short, long, required = true)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub train_args: TrainArgs,
    /// How to choose the low-bit layers: bisect, halving, count:N or threshold:S.
    #[arg(long, default_value = "bisect", value_parser = select_value)]
    pub select: String,
    /// With --select halving: accept once the candidate count is at or below N.
    #[arg(long, value_name = "N")]
    pub min_candidates: Option<usize>,
    /// Never select the layer with the smallest statistic.
    #[arg(long)]
    pub skip_smallest: bool,
    #[command(flatten)]
    pub candidate: CandidateArgs,
    /// Stop the search after this many seconds and keep the best found.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = seconds_value)]
    pub time_budget: Option<f64>,
    /// Run every candidate on every validation sample. By default a
    /// candidate's evaluation stops after the batch that makes its answer
    /// (within the threshold or not) certain; the decisions and the written
    /// model are the same either way. (--eval-command always runs in full.)
    #[arg(long, conflicts_with = "eval_command")]
    pub full_eval: bool,
    /// Score each candidate with this shell command instead of --metric:
    /// {model} is replaced by the candidate's path; the command prints one
    /// number, or JSON with a "score" field. --threshold is then a loss in
    /// its unit.
    #[arg(long, value_name = "CMD")]
    pub eval_command: Option<String>,
    /// With --eval-command: higher scores are better (the default).
    #[arg(long, requires = "eval_command", conflicts_with = "lower_is_better")]
    pub higher_is_better: bool,
    /// With --eval-command: lower scores are better (an error rate, a loss).
    #[arg(long, requires = "eval_command")]
    pub lower_is_better: bool,
}

/// `compare`'s arguments.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The ONNX model.
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub candidate: CandidateArgs,
    /// Criteria, comma-separated: drift (the five drift statistics and
    /// drift:normalized, S / var(W0)) or one of drift:mean-square,
    /// drift:mean, drift:variance, drift:std, drift:mean-abs,
    /// drift:normalized; range, max-abs, layer-accuracy, sqnr, gradient,
    /// random. --statistic is the S of drift:normalized and drift.svg; the
    /// fine-tuning options apply to the drift criteria, --batch-size and
    /// --seed also to gradient, --seed to random.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "drift,range,max-abs,layer-accuracy,sqnr,gradient,random",
        value_parser = criterion_value
    )]
    pub criteria: Vec<String>,
    /// Evaluate every N-th number of low-bit layers (always the last).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub stride: u32,
    /// Random orders averaged by the random criterion (seeded by --seed).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub random_orders: u32,
    /// Training batches (of --batch-size) the gradient criterion averages.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub gradient_batches: u32,
    /// Folder for compare.json, loss_curves.svg, drift.svg and pareto.svg.
    #[arg(long, value_name = "DIR", default_value = "compare")]
    pub out: PathBuf,
}

/// Checks a `--select` value while parsing, so that a bad one is a usage
/// error (exit 2) like every other enum-valued option.
fn select_value(text: &str) -> Result<String, String> {
    crate::options::selection(text, None)
        .map(|_| text.to_string())
        .map_err(|e| format!("{e:#}"))
}

/// Checks a `--calibration` value while parsing (exit 2 when bad).
fn calibration_value(text: &str) -> Result<String, String> {
    crate::options::calibration(text, None, wdq_quant::ScaleMode::Float)
        .map(|_| text.to_string())
        .map_err(|e| format!("{e:#}"))
}

/// Checks one `--criteria` entry while parsing (exit 2 when bad).
fn criterion_value(text: &str) -> Result<String, String> {
    onnx_wdq::compare::Criterion::parse_list(&[text])
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a `--label-free` value while parsing (exit 2 when bad).
fn label_free_value(text: &str) -> Result<String, String> {
    wdq_train::LabelFree::parse(text)
        .map(|_| text.to_string())
        .ok_or_else(|| {
            format!("`{text}`: use auto, pseudo-labels, input-noise[:SIGMA], target-noise[:SIGMA] or distill (SIGMA > 0)")
        })
}

/// Parses a number and checks it is finite and `ok`; the message says what
/// was expected (clap names the option and the value around it).
fn number<T: std::str::FromStr + Into<f64> + Copy>(
    text: &str,
    ok: impl Fn(f64) -> bool,
    expected: &str,
) -> Result<T, String> {
    let value: T = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number; expected {expected}"))?;
    let x: f64 = value.into();
    if x.is_finite() && ok(x) {
        Ok(value)
    } else {
        Err(format!("expected {expected}"))
    }
}

fn finite_f64(text: &str) -> Result<f64, String> {
    number(text, |_| true, "a finite number")
}

fn positive_f32(text: &str) -> Result<f32, String> {
    number(text, |x| x > 0.0, "a finite number greater than 0")
}

fn non_negative_f32(text: &str) -> Result<f32, String> {
    number(text, |x| x >= 0.0, "a finite number of at least 0")
}

fn momentum_value(text: &str) -> Result<f32, String> {
    number(text, |x| (0.0..1.0).contains(&x), "a number in [0, 1)")
}

fn fraction_value(text: &str) -> Result<f64, String> {
    number(
        text,
        |x| x > 0.0 && x < 1.0,
        "a fraction between 0 and 1 (exclusive)",
    )
}

/// A time budget: seconds that a `Duration` holds (about 584 billion years).
fn seconds_value(text: &str) -> Result<f64, String> {
    number(
        text,
        |x| std::time::Duration::try_from_secs_f64(x).is_ok(),
        "a non-negative number of seconds below 1.8e19",
    )
}

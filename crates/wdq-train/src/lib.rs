//! Fine-tuning cycles and per-layer weight-drift statistics: steps 1 to 3 of
//! the method. [`fine_tune`] runs the training-step graph that
//! `wdq-autodiff` builds on `wdq-exec`, K cycles, and keeps, per weighted
//! layer and cycle, a summary of D[k] = W[k] - W0 ([`drift`]).

mod batches;
mod dataset;
pub mod drift;
mod fine_tune;
mod label_free;

pub use batches::{gather_along, gather_samples, BatchOrder};
pub use dataset::{Dataset, SplitError};
pub use drift::{over_cycles, CycleDrift, Statistic};
pub use fine_tune::{fine_tune, Quiet, StepProgress, TrainObserver};
pub use label_free::{LabelFree, DEFAULT_INPUT_NOISE};

/// Fine-tuning options. Defaults are the CLI's.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// K: number of cycles (snapshots).
    pub cycles: usize,
    /// Optimizer steps per cycle; `None` is one pass over the data.
    pub steps_per_cycle: Option<usize>,
    pub learning_rate: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub batch_size: usize,
    pub seed: u64,
    /// Whether the drift statistic covers the bias as well as the weight.
    pub include_bias: bool,
    pub train_batchnorm_affine: bool,
    /// The loss when the data has no labels.
    pub label_free: LabelFree,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            cycles: 5,
            steps_per_cycle: None,
            learning_rate: 0.001,
            momentum: 0.0,
            weight_decay: 0.0,
            batch_size: 32,
            seed: 0,
            include_bias: false,
            train_batchnorm_affine: false,
            label_free: LabelFree::Auto,
        }
    }
}

/// Drift of one quantization unit (a weight and the layers reading it).
#[derive(Clone, Debug)]
pub struct LayerDrift {
    /// Every layer node reading the weight, the unit's key first.
    pub users: Vec<wdq_ir::NodeId>,
    pub op: String,
    pub weight: String,
    /// The tensors the statistic covers (the weight, and the bias with
    /// `include_bias`).
    pub tensors: Vec<String>,
    pub parameters: usize,
    /// One summary per cycle.
    pub cycles: Vec<CycleDrift>,
}

/// The outcome of fine-tuning.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Drift per quantization unit, keyed by the unit's first layer node
    /// (node ids of the model that was fine-tuned).
    pub layers: wdq_ir::LayerMap<LayerDrift>,
    /// Mean training loss of each cycle.
    pub loss_per_cycle: Vec<f64>,
    pub steps_per_cycle: usize,
    pub loss: String,
    pub seconds: f64,
}

/// Why fine-tuning failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Autodiff(#[from] wdq_autodiff::AutodiffError),
    #[error(transparent)]
    Exec(#[from] wdq_exec::ExecError),
    #[error("training diverged in cycle {cycle}, step {step}: {what} (the weights and the data were finite at the start); try a lower learning rate than {learning_rate}")]
    Diverged {
        cycle: usize,
        step: usize,
        what: String,
        learning_rate: f32,
    },
    #[error("weight `{name}` holds NaN or infinity in the model itself, before any training; the model file is damaged (repair or re-export it)")]
    NonFiniteWeight { name: String },
    /// The first step, still at the model's own weights, overflows: the
    /// learning rate has not acted yet, so the cause is the weights' or
    /// the data's scale.
    #[error("the first training step, at the model's own weights, gives {what}: the forward or backward pass overflows float32 before the learning rate has acted; the largest weight magnitude is {largest:e} in `{largest_in}`: check the weights and the scale of the data")]
    OverflowAtStart {
        what: String,
        largest: f32,
        largest_in: String,
    },
    #[error("the model has no weighted layer to fine-tune")]
    NoLayers,
    #[error("the training data holds no sample")]
    NoData,
    #[error("no initial value for trainable tensor `{name}`")]
    MissingParameter { name: String },
    #[error("the training graph has no output `{name}`")]
    MissingOutput { name: String },
    #[error("fine-tuning without labels needs a float first output from the original model")]
    Teacher,
    #[error("pseudo-labels need a classifier output [N, classes] with more than one class; the first output has shape {shape:?} (use input-noise)")]
    PseudoLabels { shape: Vec<usize> },
    #[error("after cycle {cycle}: {message}")]
    Observer { cycle: usize, message: String },
}

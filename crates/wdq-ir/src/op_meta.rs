//! One metadata row per op: which kernel family runs it, how many inputs
//! and outputs it takes, its shape rule and its gradient rule. The rows are
//! written beside the ops in `define_ops!` (op.rs); everything that used to
//! keep its own list of op names (the executor's dispatch, the shape lists
//! of opset conversion, the gradient mapping, weighted-layer discovery)
//! reads them through [`Op::meta`] or [`meta_by_name`].
//!
//! A row is built with the `const` helpers below, e.g.
//! `OpMeta::unary().grad(GradRule::Activation)`.

use crate::Op;

/// Which kernel kit of the executor runs an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Elementwise unary math and activations (wdq-exec `nn/activation.rs`).
    Unary,
    /// Broadcasting elementwise arithmetic, variadic where ONNX says so
    /// (wdq-exec `nn/binary.rs`).
    Binary,
    /// The other compute kernels (convolution, matrix products, pooling,
    /// normalisation, softmax): an arm of wdq-exec `nn::run`.
    Compute,
    /// Data movement, shape math, comparisons, casts, reductions, resize,
    /// quantize/dequantize and constants (wdq-exec `tensor_ops`).
    Tensor,
    /// Known to opset conversion (shape rule only), or opaque: the executor
    /// does not run it.
    NotRun,
    /// A gradient op of the project domain (wdq-exec `grad/`).
    Gradient,
}

/// How the shape and element type of output 0 follow from the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeRule {
    /// Shape and type of input 0.
    Same,
    /// Rank and type of input 0; the sizes follow an op-specific rule.
    SameRank,
    /// Numpy broadcast of every present input; type of input 0.
    Broadcast,
    /// Numpy broadcast of every present input; bool.
    Compare,
    /// An op-specific rule (rank included).
    Own,
}

/// Which gradient rule of wdq-autodiff differentiates an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradRule {
    /// Not differentiable: autodiff refuses a path through it.
    NotDifferentiable,
    /// `dX = dY * f'(X)` by `GradOp::ActivationGrad`, the derivative chosen
    /// by `grad_op::Activation::of`.
    Activation,
    /// A rule of wdq-autodiff `rules/nn.rs` (layers, pooling, norms, softmax).
    Layer,
    /// A rule of `rules/elementwise.rs` (broadcast arithmetic, smooth math).
    Elementwise,
    /// A rule of `rules/movement.rs` (data movement, reductions, identities).
    Movement,
}

/// The `max` of a variadic input or output list.
pub const VARIADIC: usize = Arity::VARIADIC;

/// Input or output count: at least `min`, at most `max`
/// ([`Arity::VARIADIC`] for no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arity {
    pub min: usize,
    pub max: usize,
}

impl Arity {
    /// The `max` of a variadic list.
    pub const VARIADIC: usize = usize::MAX;

    /// Whether `n` slots fit.
    pub fn allows(&self, n: usize) -> bool {
        n >= self.min && n <= self.max
    }
}

impl std::fmt::Display for Arity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.min, self.max) {
            (a, b) if a == b => write!(f, "{a}"),
            (a, Arity::VARIADIC) => write!(f, "{a} or more"),
            (a, b) => write!(f, "{a} to {b}"),
        }
    }
}

/// The metadata row of one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpMeta {
    /// ONNX op_type (default domain).
    pub name: &'static str,
    pub family: Family,
    pub inputs: Arity,
    pub outputs: Arity,
    pub shape: ShapeRule,
    pub grad: GradRule,
    /// Owns a trainable weight tensor (a "layer" in the method's sense)
    /// when that operand is constant.
    pub weighted: bool,
}

impl OpMeta {
    /// A row of `family` with one input, one output, an own shape rule and
    /// no gradient; the builders below change one field each.
    pub const fn of(family: Family) -> OpMeta {
        OpMeta {
            name: "",
            family,
            inputs: Arity { min: 1, max: 1 },
            outputs: Arity { min: 1, max: 1 },
            shape: ShapeRule::Own,
            grad: GradRule::NotDifferentiable,
            weighted: false,
        }
    }

    /// An elementwise unary op: one input, output like it.
    pub const fn unary() -> OpMeta {
        OpMeta::of(Family::Unary).shape(ShapeRule::Same)
    }

    /// A broadcasting binary op (two inputs).
    pub const fn binary() -> OpMeta {
        OpMeta::of(Family::Binary)
            .ins(2, 2)
            .shape(ShapeRule::Broadcast)
            .grad(GradRule::Elementwise)
    }

    /// A broadcasting op over one or more inputs (Max, Min, Sum, Mean).
    pub const fn variadic() -> OpMeta {
        OpMeta::binary().ins(1, Arity::VARIADIC)
    }

    /// A compute-kernel op.
    pub const fn compute() -> OpMeta {
        OpMeta::of(Family::Compute)
    }

    /// A tensor op.
    pub const fn tensor() -> OpMeta {
        OpMeta::of(Family::Tensor)
    }

    /// An op that is read and written but not run.
    pub const fn not_run() -> OpMeta {
        OpMeta::of(Family::NotRun)
    }

    pub const fn ins(mut self, min: usize, max: usize) -> OpMeta {
        self.inputs = Arity { min, max };
        self
    }

    pub const fn outs(mut self, min: usize, max: usize) -> OpMeta {
        self.outputs = Arity { min, max };
        self
    }

    pub const fn shape(mut self, rule: ShapeRule) -> OpMeta {
        self.shape = rule;
        self
    }

    pub const fn grad(mut self, rule: GradRule) -> OpMeta {
        self.grad = rule;
        self
    }

    pub const fn weighted(mut self) -> OpMeta {
        self.weighted = true;
        self
    }

    pub(crate) const fn named(mut self, name: &'static str) -> OpMeta {
        self.name = name;
        self
    }

    /// Whether the executor's compute kit ([`Family::Unary`],
    /// [`Family::Binary`] or [`Family::Compute`]) runs the op.
    pub fn is_compute(&self) -> bool {
        matches!(
            self.family,
            Family::Unary | Family::Binary | Family::Compute
        )
    }
}

/// ONNX ops outside the closed set whose shape rule opset conversion uses
/// (the executor does not run them; they stay [`Op::Opaque`]).
pub const NOT_RUN: &[OpMeta] = &[
    OpMeta::not_run().shape(ShapeRule::Same).named("Elu"),
    OpMeta::not_run().shape(ShapeRule::Same).named("Selu"),
    OpMeta::not_run().shape(ShapeRule::Same).named("Softplus"),
    OpMeta::not_run().shape(ShapeRule::Same).named("Softsign"),
    OpMeta::not_run().shape(ShapeRule::Same).named("LRN"),
    OpMeta::not_run()
        .ins(3, 3)
        .shape(ShapeRule::Same)
        .named("InstanceNormalization"),
    OpMeta::not_run()
        .ins(1, VARIADIC)
        .shape(ShapeRule::Broadcast)
        .named("Sum"),
    OpMeta::not_run()
        .ins(1, VARIADIC)
        .shape(ShapeRule::Broadcast)
        .named("Mean"),
    OpMeta::not_run().shape(ShapeRule::Same).named("Hardmax"),
    OpMeta::not_run()
        .ins(1, 2)
        .shape(ShapeRule::SameRank)
        .named("Upsample"),
    OpMeta::not_run()
        .ins(2, 2)
        .shape(ShapeRule::Compare)
        .named("GreaterOrEqual"),
    OpMeta::not_run()
        .ins(2, 2)
        .shape(ShapeRule::Compare)
        .named("LessOrEqual"),
    OpMeta::not_run()
        .ins(2, 2)
        .shape(ShapeRule::Compare)
        .named("And"),
    OpMeta::not_run()
        .ins(2, 2)
        .shape(ShapeRule::Compare)
        .named("Or"),
    OpMeta::not_run()
        .ins(2, 2)
        .shape(ShapeRule::Compare)
        .named("Xor"),
];

/// The row of the default-domain op named `op_type`: a closed-set op's
/// row, else one of [`NOT_RUN`].
pub fn meta_by_name(op_type: &str) -> Option<&'static OpMeta> {
    Op::meta_of_name(op_type).or_else(|| NOT_RUN.iter().find(|m| m.name == op_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_closed_op_has_a_named_row_found_by_name() {
        for meta in Op::ALL_META {
            assert!(!meta.name.is_empty());
            assert_eq!(meta_by_name(meta.name), Some(meta));
            assert!(meta.inputs.min <= meta.inputs.max, "{}", meta.name);
            assert!(meta.outputs.min >= 1, "{}", meta.name);
        }
        assert_eq!(meta_by_name("Hardmax").unwrap().family, Family::NotRun);
        assert!(meta_by_name("NoSuchOp").is_none());
        let names: std::collections::BTreeSet<_> =
            Op::ALL_META.iter().chain(NOT_RUN).map(|m| m.name).collect();
        assert_eq!(names.len(), Op::ALL_META.len() + NOT_RUN.len());
    }

    #[test]
    fn rows_describe_their_ops() {
        assert!(Op::MatMul.meta().weighted && Op::MatMul.meta().is_compute());
        assert_eq!(Op::Relu.meta().grad, GradRule::Activation);
        assert_eq!(Op::Identity.meta().family, Family::Tensor);
        assert!(!Op::Add.meta().inputs.allows(3));
        assert!(Op::Max.meta().inputs.allows(5));
        assert_eq!(Arity { min: 1, max: 3 }.to_string(), "1 to 3");
    }
}

//! onnx-wdq's intermediate representation.
//!
//! A [`Model`] holds a [`Graph`]: an arena of [`Value`]s and [`Node`]s
//! addressed by [`ValueId`] / [`NodeId`], nodes kept in topological order.
//! [`Op`] is the closed set of ops the project understands, with typed
//! attributes, plus `Op::Opaque` for everything else. The IR knows nothing of
//! protobuf, of any runtime, or of the CLI.

pub mod attr;
mod constant;
mod dtype;
pub mod dump;
pub mod einsum;
pub mod grad_op;
mod graph;
pub mod layers;
pub mod op;
pub mod op_list;
pub mod op_meta;
pub mod pass;
mod tensor;
mod verify;
mod weights_not_inputs;

pub use attr::{Attr, AttrValue};
pub use constant::constant_tensor;
pub use dtype::DType;
pub use grad_op::GradOp;
pub use graph::{Dim, Graph, Model, Node, NodeId, OpsetId, TensorType, Value, ValueDef, ValueId};
pub use layers::{
    layer_units, weighted_layers, CompanionWeight, LayerMap, LayerSlots, LayerUnit, WeightedLayer,
};
pub use op::{Op, OpaqueAttr};
pub use op_meta::{meta_by_name, Arity, Family, GradRule, OpMeta, ShapeRule};
pub use pass::{run_passes, Changed, Pass, PassError};
pub use tensor::{Tensor, TensorData, TensorError};
pub use verify::{verify, VerifyError};
pub use weights_not_inputs::WeightsNotInputs;

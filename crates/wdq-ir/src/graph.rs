//! The graph arena: values and nodes addressed by copyable ids, and the
//! model around it (opsets, metadata).
//!
//! Invariants (checked by [`crate::verify`]): `order` lists live nodes in
//! topological order; every value is defined once, by a graph input, an
//! initializer or one output slot of one node; a node's outputs point back at
//! it. Nodes taken out of `order` stay in the arena, dead, so ids stay valid.

use crate::{DType, Op, Tensor};
use std::sync::Arc;

/// Index of a value in [`Graph::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

/// Index of a node in [`Graph::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One dimension of a declared shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Known(usize),
    /// A symbolic dimension (`dim_param`), e.g. `batch`.
    Named(String),
    Unknown,
}

/// Declared or inferred type of a value. `shape: None` means rank unknown.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Option<Vec<Dim>>,
}

impl TensorType {
    /// A type with a fully known shape.
    pub fn known(dtype: DType, shape: &[usize]) -> TensorType {
        TensorType {
            dtype,
            shape: Some(shape.iter().map(|&d| Dim::Known(d)).collect()),
        }
    }

    /// The shape when every dimension is known.
    pub fn concrete_shape(&self) -> Option<Vec<usize>> {
        self.shape
            .as_ref()?
            .iter()
            .map(|d| match d {
                Dim::Known(n) => Some(*n),
                _ => None,
            })
            .collect()
    }
}

/// What defines a value.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueDef {
    /// A graph input with no default.
    Input,
    /// An initializer. If the value is also listed in [`Graph::inputs`], the
    /// tensor is the default a caller may override (IR < 4 style).
    Initializer(Arc<Tensor>),
    /// Output `slot` of `node`.
    Node { node: NodeId, slot: usize },
}

/// A named value (an edge of the graph).
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub name: String,
    pub ty: Option<TensorType>,
    pub def: ValueDef,
    pub doc_string: String,
    /// `metadata_props` (key, value), in file order.
    pub metadata: Vec<(String, String)>,
}

/// One node. Optional inputs and outputs that are left out are `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<Option<ValueId>>,
    pub outputs: Vec<Option<ValueId>>,
    pub doc_string: String,
    /// `metadata_props` (key, value), in file order: how annotations
    /// (`wdq.*`) reach the written model.
    pub metadata: Vec<(String, String)>,
}

impl Node {
    /// The `i`th input if present.
    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }
    /// The `i`th output if present.
    pub fn output(&self, i: usize) -> Option<ValueId> {
        self.outputs.get(i).copied().flatten()
    }
}

/// A dataflow graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub name: String,
    pub doc_string: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    /// Live nodes in topological order.
    pub order: Vec<NodeId>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// `metadata_props` (key, value), in file order.
    pub metadata: Vec<(String, String)>,
}

/// An operator set import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpsetId {
    pub domain: String,
    pub version: i64,
}

/// A model: a graph plus what the file says around it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub ir_version: i64,
    pub opsets: Vec<OpsetId>,
    pub producer_name: String,
    pub producer_version: String,
    pub domain: String,
    pub model_version: i64,
    pub doc_string: String,
    pub metadata: Vec<(String, String)>,
    /// Model-level parts the IR does not interpret (functions, training
    /// info), kept encoded with their field number for a lossless export.
    pub preserved: Vec<(u32, Vec<u8>)>,
    pub graph: Graph,
}

impl Model {
    /// Version of the default ONNX domain ("" or "ai.onnx"), if imported.
    pub fn default_opset(&self) -> Option<i64> {
        self.opsets
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
    }
}

impl Graph {
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }
    pub fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.index()]
    }
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }
    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.index()]
    }

    /// Adds a value and returns its id.
    pub fn add_value(
        &mut self,
        name: impl Into<String>,
        ty: Option<TensorType>,
        def: ValueDef,
    ) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(Value {
            name: name.into(),
            ty,
            def,
            doc_string: String::new(),
            metadata: Vec::new(),
        });
        id
    }

    /// Adds an initializer value.
    pub fn add_initializer(&mut self, name: impl Into<String>, tensor: Tensor) -> ValueId {
        let ty = TensorType::known(tensor.dtype(), tensor.shape());
        self.add_value(name, Some(ty), ValueDef::Initializer(Arc::new(tensor)))
    }

    /// Adds a node whose outputs are new values named `output_names`, placing
    /// it before `before` in the order (at the end when `None`). Returns the
    /// node id. The caller keeps the order topological.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: Vec<Option<ValueId>>,
        output_names: &[&str],
        before: Option<NodeId>,
    ) -> NodeId {
        let node = NodeId(self.nodes.len() as u32);
        let outputs = output_names
            .iter()
            .enumerate()
            .map(|(slot, n)| Some(self.add_value(*n, None, ValueDef::Node { node, slot })))
            .collect();
        self.nodes.push(Node {
            name: name.into(),
            op,
            inputs,
            outputs,
            doc_string: String::new(),
            metadata: Vec::new(),
        });
        match before.and_then(|b| self.order.iter().position(|&n| n == b)) {
            Some(at) => self.order.insert(at, node),
            None => self.order.push(node),
        }
        node
    }

    /// A name for messages, reports and derived value names: the node's
    /// name, or (for unnamed nodes) the name of its first output, or
    /// `node<N>`. The one label function of the project: stages key layers
    /// by [`NodeId`] and call this only when they render.
    pub fn node_label(&self, id: NodeId) -> String {
        let node = self.node(id);
        if !node.name.is_empty() {
            return node.name.clone();
        }
        node.outputs
            .iter()
            .flatten()
            .map(|v| self.value(*v).name.clone())
            .find(|n| !n.is_empty())
            .unwrap_or_else(|| format!("node{}", id.0))
    }

    /// Live nodes in topological order.
    pub fn live_nodes(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.order.iter().map(move |&id| (id, self.node(id)))
    }

    /// For each value, the (node, input slot) pairs that read it, over live nodes.
    pub fn users(&self) -> Vec<Vec<(NodeId, usize)>> {
        let mut users = vec![Vec::new(); self.values.len()];
        for (id, node) in self.live_nodes() {
            for (slot, input) in node.inputs.iter().enumerate() {
                if let Some(v) = input {
                    users[v.index()].push((id, slot));
                }
            }
        }
        users
    }

    /// Replaces every use of `from` (node inputs and graph outputs) by `to`.
    pub fn replace_uses(&mut self, from: ValueId, to: ValueId) {
        for &id in &self.order {
            for input in self.nodes[id.index()].inputs.iter_mut() {
                if *input == Some(from) {
                    *input = Some(to);
                }
            }
        }
        for out in self.outputs.iter_mut() {
            if *out == from {
                *out = to;
            }
        }
    }

    /// Finds a value by name (linear scan: for tools and tests).
    pub fn value_by_name(&self, name: &str) -> Option<ValueId> {
        self.values
            .iter()
            .position(|v| v.name == name)
            .map(|i| ValueId(i as u32))
    }

    /// The constant behind `value`, looking through `Identity` and
    /// `Constant` nodes (as PyTorch and Paddle exporters write weights).
    /// Returns the tensor and the value that holds it (the initializer, or the
    /// Constant node's output). Graph inputs with defaults are not constant.
    pub fn resolve_const(&self, value: ValueId) -> Option<(ValueId, Arc<Tensor>)> {
        let mut current = value;
        loop {
            if self.inputs.contains(&current) {
                return None;
            }
            match &self.value(current).def {
                ValueDef::Initializer(t) => return Some((current, t.clone())),
                ValueDef::Input => return None,
                ValueDef::Node { node, .. } => match &self.node(*node).op {
                    Op::Identity => current = self.node(*node).input(0)?,
                    Op::Constant(attrs) => {
                        return crate::constant_tensor(attrs).map(|t| (current, Arc::new(t)))
                    }
                    _ => return None,
                },
            }
        }
    }
}

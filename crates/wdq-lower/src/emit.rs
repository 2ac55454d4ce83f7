//! Adding tensors and nodes to the graph being lowered: unique names derived
//! from the value they stand for, placement of new nodes next to the nodes
//! they serve, and the final order (dead weight chains dropped).
//!
//! Invariant: the original nodes keep their relative order; a new node is
//! placed at the front (pairs after graph inputs), right after a producer
//! (activation pairs) or right before a layer (weight and bias
//! `DequantizeLinear`s), in the order the nodes were added.

use crate::error::LowerError;
use std::collections::{BTreeMap, HashSet};
use wdq_ir::{DType, Graph, NodeId, Op, Tensor, TensorData, TensorType, ValueDef, ValueId};

/// Where a new node goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Place {
    Front,
    After(NodeId),
    Before(NodeId),
}

/// Adds tensors and nodes to a graph under fresh names.
pub(crate) struct Emitter<'g> {
    pub graph: &'g mut Graph,
    value_names: HashSet<String>,
    node_names: HashSet<String>,
    original: Vec<NodeId>,
    front: Vec<NodeId>,
    after: BTreeMap<NodeId, Vec<NodeId>>,
    before: BTreeMap<NodeId, Vec<NodeId>>,
}

impl<'g> Emitter<'g> {
    pub fn new(graph: &'g mut Graph) -> Self {
        let value_names = graph.values.iter().map(|v| v.name.clone()).collect();
        let node_names = graph.nodes.iter().map(|n| n.name.clone()).collect();
        let original = graph.order.clone();
        Emitter {
            graph,
            value_names,
            node_names,
            original,
            front: Vec::new(),
            after: BTreeMap::new(),
            before: BTreeMap::new(),
        }
    }

    /// `base`, or `base_2`, `base_3`, ... : the first name not yet taken.
    fn fresh(taken: &mut HashSet<String>, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(name.clone());
        name
    }

    /// Adds an initializer named after `base`.
    pub fn initializer(&mut self, base: &str, tensor: Tensor) -> ValueId {
        let name = Self::fresh(&mut self.value_names, base);
        self.graph.add_initializer(name, tensor)
    }

    /// Adds a one-output node named `node_base` whose output is named
    /// `output_base` and has type `ty`; returns the node and its output.
    pub fn node(
        &mut self,
        node_base: &str,
        op: Op,
        inputs: Vec<Option<ValueId>>,
        output_base: &str,
        ty: Option<TensorType>,
        place: Place,
    ) -> (NodeId, ValueId) {
        let name = Self::fresh(&mut self.node_names, node_base);
        let output = Self::fresh(&mut self.value_names, output_base);
        let id = self
            .graph
            .add_node(name, op, inputs, &[output.as_str()], None);
        // `add_node` appends exactly one value per output name.
        let out = ValueId(self.graph.values.len() as u32 - 1);
        self.graph.value_mut(out).ty = ty;
        match place {
            Place::Front => self.front.push(id),
            Place::After(n) => self.after.entry(n).or_default().push(id),
            Place::Before(n) => self.before.entry(n).or_default().push(id),
        }
        (id, out)
    }

    /// Replaces every read of `from` by a live node other than `except`
    /// (graph outputs untouched) with `to`.
    pub fn reroute(&mut self, from: ValueId, to: ValueId, except: NodeId) {
        for &id in &self.graph.order {
            if id == except {
                continue;
            }
            for input in self.graph.nodes[id.index()].inputs.iter_mut() {
                if *input == Some(from) {
                    *input = Some(to);
                }
            }
        }
    }

    /// Rebuilds the order: original nodes minus the nodes of `candidates`
    /// that nothing reads any more, new nodes at their places.
    pub fn finish(self, candidates: &[NodeId]) {
        let dead = dead_nodes(self.graph, candidates);
        let mut order = Vec::with_capacity(self.graph.order.len());
        order.extend(self.front.iter().copied());
        for id in &self.original {
            if dead.contains(id) {
                continue;
            }
            order.extend(self.before.get(id).into_iter().flatten().copied());
            order.push(*id);
            order.extend(self.after.get(id).into_iter().flatten().copied());
        }
        self.graph.order = order;
    }
}

/// The nodes of `candidates` whose outputs no live node (outside the dead
/// set) and no graph output reads, found until nothing changes.
fn dead_nodes(graph: &Graph, candidates: &[NodeId]) -> HashSet<NodeId> {
    let mut dead = HashSet::new();
    loop {
        let mut read = vec![false; graph.values.len()];
        for &id in &graph.order {
            if dead.contains(&id) {
                continue;
            }
            for v in graph.node(id).inputs.iter().flatten() {
                read[v.index()] = true;
            }
        }
        for v in &graph.outputs {
            read[v.index()] = true;
        }
        let before = dead.len();
        for &id in candidates {
            if graph
                .node(id)
                .outputs
                .iter()
                .flatten()
                .all(|v| !read[v.index()])
            {
                dead.insert(id);
            }
        }
        if dead.len() == before {
            return dead;
        }
    }
}

/// A tensor of integer codes of type `dtype` (i4/i8/u8/i32/u16/i16).
///
/// # Errors
/// [`LowerError::Tensor`] when a code does not fit the type's storage or
/// the shape does not match.
pub(crate) fn int_tensor(
    name: &str,
    dtype: DType,
    shape: Vec<usize>,
    codes: &[i32],
) -> Result<Tensor, LowerError> {
    let narrow = |what: &str| LowerError::Tensor {
        tensor: name.to_string(),
        why: format!("a code does not fit {what}"),
    };
    let data = match dtype {
        DType::I8 | DType::I4 => TensorData::I8(
            codes
                .iter()
                .map(|&c| i8::try_from(c).map_err(|_| narrow("int8")))
                .collect::<Result<_, _>>()?,
        ),
        DType::U8 | DType::U4 => TensorData::U8(
            codes
                .iter()
                .map(|&c| u8::try_from(c).map_err(|_| narrow("uint8")))
                .collect::<Result<_, _>>()?,
        ),
        DType::I32 => TensorData::I32(codes.to_vec()),
        DType::U16 => {
            let mut bytes = Vec::with_capacity(codes.len() * 2);
            for &c in codes {
                bytes.extend(
                    u16::try_from(c)
                        .map_err(|_| narrow("uint16"))?
                        .to_le_bytes(),
                );
            }
            TensorData::Bytes(bytes)
        }
        DType::I16 => {
            let mut bytes = Vec::with_capacity(codes.len() * 2);
            for &c in codes {
                bytes.extend(i16::try_from(c).map_err(|_| narrow("int16"))?.to_le_bytes());
            }
            TensorData::Bytes(bytes)
        }
        other => {
            return Err(LowerError::Tensor {
                tensor: name.to_string(),
                why: format!("element type {other} is not an integer code type"),
            })
        }
    };
    Tensor::new(dtype, shape, data).map_err(|e| LowerError::Tensor {
        tensor: name.to_string(),
        why: e.to_string(),
    })
}

/// An f32 tensor of shape `[]` (one value) or `[n]`.
pub(crate) fn scale_tensor(name: &str, scales: &[f32], vector: bool) -> Result<Tensor, LowerError> {
    let shape = if vector { vec![scales.len()] } else { vec![] };
    Tensor::new(DType::F32, shape, TensorData::F32(scales.to_vec())).map_err(|e| {
        LowerError::Tensor {
            tensor: name.to_string(),
            why: e.to_string(),
        }
    })
}

/// Bytes of the constant tensors that live nodes read: initializers (not
/// graph inputs) and the tensors of live `Constant` nodes, each once.
pub(crate) fn constant_bytes(graph: &Graph) -> usize {
    let mut seen = HashSet::new();
    let mut total = 0;
    for (_, node) in graph.live_nodes() {
        if let Op::Constant(attrs) = &node.op {
            total += wdq_ir::constant_tensor(attrs).map_or(0, |t| t.storage_bytes());
        }
        for &v in node.inputs.iter().flatten() {
            if let ValueDef::Initializer(t) = &graph.value(v).def {
                if !graph.inputs.contains(&v) && seen.insert(v) {
                    total += t.storage_bytes();
                }
            }
        }
    }
    total
}

//! Editing nodes during conversion: [`NodeAttrs`] reads and changes the
//! attributes of a known or an opaque op alike, and [`Rewriter`] adds the
//! constants and nodes that adapters need, under names no value uses yet.

use crate::attr::{decode_opaque_attr, opaque_attr};
use std::collections::HashSet;
use wdq_ir::{Attr, AttrValue, Graph, Node, NodeId, Op, OpaqueAttr, Tensor, ValueDef, ValueId};

/// One attribute: in IR form, or kept encoded as the opaque op had it.
#[derive(Clone, Debug)]
enum Slot {
    Ir(Attr),
    Kept(OpaqueAttr),
}

impl Slot {
    fn name(&self) -> &str {
        match self {
            Slot::Ir(a) => &a.name,
            Slot::Kept(a) => &a.name,
        }
    }
    fn value(&self) -> Option<AttrValue> {
        match self {
            Slot::Ir(a) => Some(a.value.clone()),
            Slot::Kept(a) => decode_opaque_attr(a).map(|a| a.value),
        }
    }
}

/// An op taken apart for editing: domain, type and attributes.
#[derive(Clone, Debug)]
pub(crate) struct NodeAttrs {
    pub domain: String,
    pub op_type: String,
    slots: Vec<Slot>,
}

impl NodeAttrs {
    pub(crate) fn of(op: &Op) -> NodeAttrs {
        let slots = match op {
            Op::Opaque { attrs, .. } => attrs.iter().cloned().map(Slot::Kept).collect(),
            known => known.attrs().into_iter().map(Slot::Ir).collect(),
        };
        NodeAttrs {
            domain: op.domain().to_string(),
            op_type: op.op_type().to_string(),
            slots,
        }
    }

    /// A default-domain op of type `op_type` with no attributes yet (for
    /// the nodes a decomposition adds).
    pub(crate) fn new(op_type: &str) -> NodeAttrs {
        NodeAttrs {
            domain: String::new(),
            op_type: op_type.to_string(),
            slots: Vec::new(),
        }
    }

    /// These attributes plus `name` = `value` (builder form of [`NodeAttrs::set`]).
    pub(crate) fn with(mut self, name: &str, value: AttrValue) -> NodeAttrs {
        self.set(name, value);
        self
    }

    /// Turns the node into a default-domain `op_type` with no attributes
    /// (the last node of a decomposition reuses the decomposed node).
    pub(crate) fn become_op(&mut self, op_type: &str) {
        *self = NodeAttrs::new(op_type);
    }

    /// The value of attribute `name`, if present and readable.
    pub(crate) fn get(&self, name: &str) -> Option<AttrValue> {
        self.slots.iter().find(|s| s.name() == name)?.value()
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.slots.iter().any(|s| s.name() == name)
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            AttrValue::Int(i) => Some(i),
            _ => None,
        }
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Names of the attributes present.
    pub(crate) fn names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.name().to_string()).collect()
    }

    /// Removes attribute `name`, returning its value if it was readable.
    pub(crate) fn remove(&mut self, name: &str) -> Option<AttrValue> {
        let at = self.slots.iter().position(|s| s.name() == name)?;
        self.slots.remove(at).value()
    }

    /// Sets attribute `name`, replacing any previous value.
    pub(crate) fn set(&mut self, name: &str, value: AttrValue) {
        let slot = Slot::Ir(Attr {
            name: name.to_string(),
            value,
        });
        match self.slots.iter().position(|s| s.name() == name) {
            Some(at) => self.slots[at] = slot,
            None => self.slots.push(slot),
        }
    }

    /// Renames attribute `from` to `to`, if present.
    pub(crate) fn rename(&mut self, from: &str, to: &str) {
        if let Some(value) = self.remove(from) {
            self.set(to, value);
        }
    }

    /// The op these attributes describe, chosen the way import chooses: a
    /// closed-set op when the domain is the default one and every attribute
    /// fits, otherwise an opaque op.
    pub(crate) fn into_op(self) -> Op {
        if self.domain.is_empty() || self.domain == "ai.onnx" {
            let attrs: Option<Vec<Attr>> = self
                .slots
                .iter()
                .map(|s| match s {
                    Slot::Ir(a) => Some(a.clone()),
                    Slot::Kept(a) => decode_opaque_attr(a),
                })
                .collect();
            if let Some(Some(Ok(op))) = attrs.map(|a| Op::from_onnx(&self.op_type, &a)) {
                return op;
            }
        }
        Op::Opaque {
            domain: self.domain,
            op_type: self.op_type,
            attrs: self
                .slots
                .into_iter()
                .map(|s| match s {
                    Slot::Ir(a) => opaque_attr(&a),
                    Slot::Kept(a) => a,
                })
                .collect(),
        }
    }
}

/// Adds values and nodes to a graph under fresh names.
pub(crate) struct Rewriter<'g> {
    pub graph: &'g mut Graph,
    names: HashSet<String>,
    /// Whether any initializer was added (IR versions before 4 would need
    /// it listed as a graph input).
    pub added_constants: bool,
}

impl<'g> Rewriter<'g> {
    pub(crate) fn new(graph: &'g mut Graph) -> Rewriter<'g> {
        let mut names: HashSet<String> = graph.values.iter().map(|v| v.name.clone()).collect();
        names.extend(graph.nodes.iter().map(|n| n.name.clone()));
        Rewriter {
            graph,
            names,
            added_constants: false,
        }
    }

    /// `base`, or `base_1`, `base_2`... whichever no value or node uses.
    pub(crate) fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 0;
        while self.names.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.names.insert(name.clone());
        name
    }

    /// Adds an initializer named after `base`.
    pub(crate) fn constant(&mut self, base: &str, tensor: Tensor) -> ValueId {
        let name = self.fresh(base);
        self.added_constants = true;
        self.graph.add_initializer(name, tensor)
    }

    /// Adds a value with no definition yet (for [`Rewriter::insert`]).
    pub(crate) fn value(&mut self, base: &str) -> ValueId {
        let name = self.fresh(base);
        self.graph.add_value(name, None, ValueDef::Input)
    }

    /// Inserts a node writing the given values, before `at` or, with
    /// `after`, right after it, and points the values at it.
    pub(crate) fn insert(
        &mut self,
        at: NodeId,
        after: bool,
        name: &str,
        op: Op,
        inputs: Vec<Option<ValueId>>,
        outputs: Vec<Option<ValueId>>,
    ) -> NodeId {
        let id = NodeId(self.graph.nodes.len() as u32);
        for (slot, out) in outputs.iter().enumerate() {
            if let Some(v) = out {
                self.graph.value_mut(*v).def = ValueDef::Node { node: id, slot };
            }
        }
        let name = self.fresh(name);
        self.graph.nodes.push(Node {
            name,
            op,
            inputs,
            outputs,
            doc_string: String::new(),
            metadata: Vec::new(),
        });
        let pos = self
            .graph
            .order
            .iter()
            .position(|&n| n == at)
            .map_or(self.graph.order.len(), |p| p + usize::from(after));
        self.graph.order.insert(pos, id);
        id
    }

    /// Adds a node `attrs` reading `inputs`, before `at`, and returns its
    /// one output, a new value named after `name`.
    pub(crate) fn op_before(
        &mut self,
        at: NodeId,
        name: &str,
        attrs: NodeAttrs,
        inputs: Vec<Option<ValueId>>,
    ) -> ValueId {
        let out = self.value(name);
        self.insert(at, false, name, attrs.into_op(), inputs, vec![Some(out)]);
        out
    }

    /// `op_type(inputs)` inserted before `at`, its output named
    /// `{label}_{suffix}`: one step of an op written as older ops.
    pub(crate) fn step_before(
        &mut self,
        at: NodeId,
        label: &str,
        suffix: &str,
        op_type: &str,
        inputs: &[ValueId],
    ) -> ValueId {
        self.op_before(
            at,
            &format!("{label}_{suffix}"),
            NodeAttrs::new(op_type),
            inputs.iter().map(|&v| Some(v)).collect(),
        )
    }

    /// Sets input `slot` of `node`, padding with absent inputs.
    pub(crate) fn set_input(&mut self, node: NodeId, slot: usize, value: Option<ValueId>) {
        let inputs = &mut self.graph.node_mut(node).inputs;
        if inputs.len() <= slot {
            inputs.resize(slot + 1, None);
        }
        inputs[slot] = value;
    }

    /// Moves an ints attribute to input `slot` as an i64 initializer.
    pub(crate) fn ints_to_input(
        &mut self,
        node: NodeId,
        attrs: &mut NodeAttrs,
        attr: &str,
        slot: usize,
    ) -> Result<(), String> {
        match attrs.remove(attr) {
            None => Ok(()),
            Some(AttrValue::Ints(v)) => {
                let base = format!("{}_{attr}", self.graph.node_label(node));
                let value = self.constant(&base, Tensor::from_i64(vec![v.len()], v));
                self.set_input(node, slot, Some(value));
                Ok(())
            }
            Some(_) => Err(format!("attribute `{attr}` is not a list of ints")),
        }
    }

    /// Whether a live node or a graph output reads `value`.
    pub(crate) fn is_read(&self, value: ValueId) -> bool {
        self.graph.outputs.contains(&value)
            || self
                .graph
                .live_nodes()
                .any(|(_, n)| n.inputs.contains(&Some(value)))
    }
}

/// A scalar tensor holding `x`.
pub(crate) fn scalar_f32(x: f32) -> Tensor {
    Tensor::from_f32(vec![], vec![x])
}

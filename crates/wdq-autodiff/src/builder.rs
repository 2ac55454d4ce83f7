//! Appends nodes and constants to the graph being built, with names that
//! stay unique (a value name is never reused).

use std::collections::HashSet;
use wdq_ir::{Graph, Node, NodeId, Op, Tensor, ValueDef, ValueId};

/// Appends to a graph; every new node goes to the end of the order.
pub(crate) struct Builder<'g> {
    pub graph: &'g mut Graph,
    names: HashSet<String>,
}

impl<'g> Builder<'g> {
    pub fn new(graph: &'g mut Graph) -> Self {
        let names = graph.values.iter().map(|v| v.name.clone()).collect();
        Builder { graph, names }
    }

    /// `base`, or `base_1`, `base_2`, ... whichever is still free; reserves it.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// Adds a node with one output slot per entry of `outputs` (`None`: the
    /// slot is left empty). Output values are named `<hint>.<suffix>`.
    pub fn node_with(
        &mut self,
        hint: &str,
        op: Op,
        inputs: Vec<Option<ValueId>>,
        outputs: &[Option<&str>],
    ) -> Vec<Option<ValueId>> {
        let node = NodeId(self.graph.nodes.len() as u32);
        let mut outs = Vec::with_capacity(outputs.len());
        for (slot, suffix) in outputs.iter().enumerate() {
            outs.push(suffix.map(|s| {
                let name = self.fresh(&format!("{hint}.{s}"));
                self.graph
                    .add_value(name, None, ValueDef::Node { node, slot })
            }));
        }
        self.graph.nodes.push(Node {
            name: format!("{hint}/{}", op.op_type()),
            op,
            inputs,
            outputs: outs.clone(),
            doc_string: String::new(),
            metadata: Vec::new(),
        });
        self.graph.order.push(node);
        outs
    }

    /// Adds a one-output node and returns its output.
    pub fn one(&mut self, hint: &str, op: Op, inputs: &[ValueId]) -> ValueId {
        self.one_opt(hint, op, inputs.iter().map(|&v| Some(v)).collect())
    }

    /// Adds a one-output node whose inputs may be absent.
    pub fn one_opt(&mut self, hint: &str, op: Op, inputs: Vec<Option<ValueId>>) -> ValueId {
        self.several(hint, op, inputs, &["g"])[0]
    }

    /// Adds a node whose output slots are all present, named
    /// `<hint>.<suffix>`; returns them in slot order.
    pub fn several(
        &mut self,
        hint: &str,
        op: Op,
        inputs: Vec<Option<ValueId>>,
        suffixes: &[&str],
    ) -> Vec<ValueId> {
        let node = NodeId(self.graph.nodes.len() as u32);
        let outs: Vec<ValueId> = suffixes
            .iter()
            .enumerate()
            .map(|(slot, s)| {
                let name = self.fresh(&format!("{hint}.{s}"));
                self.graph
                    .add_value(name, None, ValueDef::Node { node, slot })
            })
            .collect();
        self.graph.nodes.push(Node {
            name: format!("{hint}/{}", op.op_type()),
            op,
            inputs,
            outputs: outs.iter().map(|&v| Some(v)).collect(),
            doc_string: String::new(),
            metadata: Vec::new(),
        });
        self.graph.order.push(node);
        outs
    }

    /// Adds an initializer.
    pub fn constant(&mut self, hint: &str, tensor: Tensor) -> ValueId {
        let name = self.fresh(hint);
        self.graph.add_initializer(name, tensor)
    }

    /// An f32 scalar initializer.
    pub fn scalar(&mut self, hint: &str, v: f32) -> ValueId {
        self.constant(hint, Tensor::from_f32(vec![], vec![v]))
    }

    /// A 1-D i64 initializer.
    pub fn ints(&mut self, hint: &str, v: &[i64]) -> ValueId {
        self.constant(hint, Tensor::from_i64(vec![v.len()], v.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wdq_ir::{DType, TensorType, ValueDef};

    #[test]
    fn fresh_names_never_repeat_and_nodes_append() {
        let mut g = Graph::default();
        let x = g.add_value(
            "x",
            Some(TensorType::known(DType::F32, &[2])),
            ValueDef::Input,
        );
        g.inputs.push(x);
        let mut b = Builder::new(&mut g);
        assert_eq!(b.fresh("x"), "x_1");
        assert_eq!(b.fresh("x"), "x_2");
        let outs = b.node_with("n", Op::Relu, vec![Some(x)], &[Some("g"), None]);
        assert!(outs[0].is_some() && outs[1].is_none());
        assert_eq!(b.graph.value(outs[0].unwrap()).name, "n.g");
        g.outputs.push(outs[0].unwrap());
        assert!(wdq_ir::verify(&g).is_ok());
    }
}

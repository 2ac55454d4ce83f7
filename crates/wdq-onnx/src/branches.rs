//! Weighted nodes inside subgraphs: `If` branches, `Loop` and `Scan`
//! bodies, the graph attributes of any op. The IR keeps subgraphs encoded in
//! their opaque node, so the stages after import (training, calibration,
//! the search, lowering) never see them; this module finds the layers a
//! reader of the file would count there, for `inspect` and the report.
//!
//! Each subgraph is imported on its own: a name it reads from the scopes
//! around it becomes an initializer when it is a constant there (a weight
//! shared with the main graph), an untyped input otherwise. Callers find
//! its weighted nodes by the one rule of the main graph
//! ([`wdq_ir::layer_units`]), nested subgraphs too.

use crate::external::ExternalResolver;
use crate::import::subgraph_from_proto;
use crate::pb;
use crate::scope::graph_references;
use crate::tensor::tensor_to_proto;
use prost::Message;
use std::collections::BTreeSet;
use wdq_ir::{weighted_layers, Graph, Model, NodeId, Op, OpaqueAttr};

/// A subgraph of a main-graph node, imported on its own. Its weighted
/// nodes (`wdq_ir::layer_units(&graph)`) are not layers of the method.
#[derive(Clone, Debug)]
pub struct Subgraph {
    /// The main-graph node that holds it.
    pub host: NodeId,
    /// The host's op type (`If`, `Loop`, `Scan`, ...).
    pub host_op: String,
    /// The attribute name (`then_branch`, `else_branch`, `body`; `name[i]`
    /// in a list of graphs), nested ones joined by `/` through the inner
    /// host node's label.
    pub branch: String,
    pub graph: Graph,
}

impl Subgraph {
    /// Why its weighted nodes are not layers: the sentence `inspect` and
    /// the report print.
    pub fn reason(&self) -> String {
        format!(
            "inside {} `{}`: not quantized because subgraphs stay encoded in their {} node (the executor does not run them, so they are neither trained nor measured, and lowering does not rewrite them); the weight stays float",
            self.host_op, self.branch, self.host_op
        )
    }
}

/// The subgraphs of `model`'s live nodes that hold weighted nodes, nested
/// ones included, in graph order of their hosts, then in the file's
/// attribute order. A subgraph that cannot be decoded or imported on its
/// own is left out.
pub fn weighted_subgraphs(model: &Model) -> Vec<Subgraph> {
    let graph = &model.graph;
    let mut out = Vec::new();
    for (id, node) in graph.live_nodes() {
        if let Op::Opaque { op_type, attrs, .. } = &node.op {
            let host = Host { id, op: op_type };
            collect(graph, attrs, &host, "", &mut out);
        }
    }
    out.retain(|s| !weighted_layers(&s.graph).is_empty());
    out
}

/// The main-graph node a subgraph hangs from.
struct Host<'a> {
    id: NodeId,
    op: &'a str,
}

fn collect(
    outer: &Graph,
    attrs: &[OpaqueAttr],
    host: &Host<'_>,
    prefix: &str,
    out: &mut Vec<Subgraph>,
) {
    for attr in attrs {
        let Ok(proto) = pb::AttributeProto::decode(attr.encoded.as_slice()) else {
            continue;
        };
        let listed = proto.graphs.iter().enumerate().map(|(i, g)| (Some(i), g));
        for (index, body) in proto.g.iter().map(|g| (None, g)).chain(listed) {
            let branch = match index {
                None => format!("{prefix}{}", attr.name),
                Some(i) => format!("{prefix}{}[{i}]", attr.name),
            };
            let Some(graph) = import_in_scope(outer, body.clone()) else {
                continue;
            };
            for (id, node) in graph.live_nodes() {
                if let Op::Opaque { attrs, .. } = &node.op {
                    let nested = format!("{branch}/{}/", graph.node_label(id));
                    collect(&graph, attrs, host, &nested, out);
                }
            }
            out.push(Subgraph {
                host: host.id,
                host_op: host.op.to_string(),
                branch,
                graph,
            });
        }
    }
}

/// `body` imported with the names it reads from `outer` defined: constants
/// of `outer` as initializers, anything else as inputs.
fn import_in_scope(outer: &Graph, mut body: pb::GraphProto) -> Option<Graph> {
    let mut read = BTreeSet::new();
    graph_references(&body, &mut read);
    for name in read {
        let constant = outer
            .value_by_name(&name)
            .and_then(|v| outer.resolve_const(v));
        match constant {
            Some((_, tensor)) => body.initializer.push(tensor_to_proto(&tensor, Some(&name))),
            None => body.input.push(pb::ValueInfoProto {
                name: Some(name),
                ..Default::default()
            }),
        }
    }
    subgraph_from_proto(body, &ExternalResolver::new(None)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Model {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/models")
            .join(name);
        crate::load_model(&path).unwrap()
    }

    #[test]
    fn layers_in_both_if_branches_are_found_with_their_branch() {
        let model = fixture("if_branch_weights.onnx");
        let found = weighted_subgraphs(&model);
        let rows: Vec<(&str, String, String)> = found
            .iter()
            .flat_map(|s| {
                weighted_layers(&s.graph).into_iter().map(move |l| {
                    let weight = s.graph.value(l.weight).name.clone();
                    (s.branch.as_str(), s.graph.node_label(l.node), weight)
                })
            })
            .collect();
        let rows: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(b, n, w)| (*b, n.as_str(), w.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("else_branch", "else_gemm", "else.W"),
                ("then_branch", "then_matmul", "then.W"),
            ]
        );
        assert!(found.iter().all(|s| s.host_op == "If"));
        let why = found[1].reason();
        assert!(
            why.starts_with("inside If `then_branch`: not quantized because"),
            "{why}"
        );
        // The main graph's own layer is not among them.
        assert_eq!(weighted_layers(&model.graph).len(), 1);
    }

    #[test]
    fn a_model_without_subgraphs_has_none() {
        assert!(weighted_subgraphs(&fixture("recurrent_mix.onnx")).is_empty());
    }
}

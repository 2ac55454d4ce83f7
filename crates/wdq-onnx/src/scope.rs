//! Names that subgraphs (the `GRAPH`/`GRAPHS` attributes of `If`, `Loop`,
//! `Scan` and custom ops) read from the scopes around them.
//!
//! The IR lists only a node's explicit inputs, so import orders nodes by
//! these names too, and export keeps the initializers they name.

use crate::pb;
use std::collections::BTreeSet;

/// Names the subgraphs of `attrs` read without defining them.
pub(crate) fn outer_references(attrs: &[pb::AttributeProto]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for attr in attrs {
        for graph in attr.g.iter().chain(attr.graphs.iter()) {
            graph_references(graph, &mut out);
        }
    }
    out
}

/// Adds to `out` the names `graph` reads without defining them.
pub(crate) fn graph_references(graph: &pb::GraphProto, out: &mut BTreeSet<String>) {
    let mut local: BTreeSet<&str> = BTreeSet::new();
    local.extend(graph.input.iter().filter_map(|v| v.name.as_deref()));
    local.extend(graph.initializer.iter().filter_map(|t| t.name.as_deref()));
    local.extend(
        graph
            .sparse_initializer
            .iter()
            .filter_map(|s| s.values.as_ref()?.name.as_deref()),
    );
    for node in &graph.node {
        local.extend(node.output.iter().map(String::as_str));
    }
    let mut read = BTreeSet::new();
    for node in &graph.node {
        read.extend(node.input.iter().cloned());
        read.extend(outer_references(&node.attribute));
    }
    read.extend(graph.output.iter().filter_map(|v| v.name.clone()));
    out.extend(
        read.into_iter()
            .filter(|n| !n.is_empty() && !local.contains(n.as_str())),
    );
}

//! Subgraphs (`If`, `Loop`, `Scan` bodies and graph attributes of any op)
//! stay encoded and are not rewritten. A conversion goes ahead only when no
//! default-domain node inside them needs a rewrite in the range.

use super::history::schema_versions;
use super::steps::{next_change, Step};
use crate::pb;
use prost::Message;
use wdq_ir::OpaqueAttr;

/// Why the subgraphs in `attrs` block a conversion from `from` to `to`,
/// or `None` when they do not.
pub(crate) fn blocking_subgraph_node(attrs: &[OpaqueAttr], from: i64, to: i64) -> Option<String> {
    for attr in attrs {
        let Ok(proto) = pb::AttributeProto::decode(attr.encoded.as_slice()) else {
            continue;
        };
        for graph in proto.g.iter().chain(proto.graphs.iter()) {
            if let Some(why) = blocking_in_graph(graph, from, to) {
                return Some(why);
            }
        }
    }
    None
}

fn blocking_in_graph(graph: &pb::GraphProto, from: i64, to: i64) -> Option<String> {
    for node in &graph.node {
        let domain = node.domain.as_deref().unwrap_or("");
        let op = node.op_type.as_deref().unwrap_or("");
        let name = node.name.as_deref().unwrap_or("");
        if domain.is_empty() || domain == "ai.onnx" {
            let Some(versions) = schema_versions(op) else {
                return Some(format!(
                    "subgraph node `{name}` ({op}) is not a default-domain op the converter knows"
                ));
            };
            let mut at = from;
            while let Some((v, change)) = next_change(op, versions, at, to) {
                if !matches!(change, Step::Same) {
                    return Some(format!(
                        "subgraph node `{name}` ({op}) would need rewriting for opset {v}; subgraphs are not converted"
                    ));
                }
                at = if to > from { v } else { v - 1 };
            }
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(attr.graphs.iter()) {
                if let Some(why) = blocking_in_graph(g, from, to) {
                    return Some(why);
                }
            }
        }
    }
    None
}

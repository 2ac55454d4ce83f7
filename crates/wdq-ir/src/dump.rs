//! The canonical text dump: one line per node, sorted attributes, values
//! renumbered in order of appearance, constants shown as `const f32[16,3,3,3]`.
//! It is the snapshot format of the tests.

use crate::{AttrValue, Dim, Graph, Model, Op, ValueDef, ValueId};
use std::collections::HashMap;
use std::fmt::Write;

/// Dumps a model: opsets, then the graph.
pub fn dump_model(model: &Model) -> String {
    let mut out = String::new();
    let mut opsets: Vec<_> = model
        .opsets
        .iter()
        .map(|o| format!("{}={}", o.domain, o.version))
        .collect();
    opsets.sort();
    let _ = writeln!(out, "opsets {}", opsets.join(" "));
    out.push_str(&dump_graph(&model.graph));
    out
}

/// Dumps a graph.
pub fn dump_graph(graph: &Graph) -> String {
    let mut names: HashMap<ValueId, usize> = HashMap::new();
    let mut out = String::new();
    let number = |v: ValueId, names: &mut HashMap<ValueId, usize>| {
        let n = names.len();
        *names.entry(v).or_insert(n)
    };
    for &input in &graph.inputs {
        let n = number(input, &mut names);
        let _ = writeln!(out, "input %{n}: {}", type_text(graph, input));
    }
    for (_, node) in graph.live_nodes() {
        let args: Vec<String> = node
            .inputs
            .iter()
            .map(|i| match i {
                None => "_".to_string(),
                Some(v)
                    if !graph.inputs.contains(v)
                        && matches!(graph.value(*v).def, ValueDef::Initializer(_)) =>
                {
                    format!("const {}", type_text(graph, *v))
                }
                Some(v) => format!("%{}", number(*v, &mut names)),
            })
            .collect();
        let outs: Vec<String> = node
            .outputs
            .iter()
            .map(|o| match o {
                None => "_".to_string(),
                Some(v) => format!("%{}", number(*v, &mut names)),
            })
            .collect();
        let _ = writeln!(
            out,
            "{} = {}{}({})",
            outs.join(", "),
            op_text(&node.op),
            attr_text(&node.op),
            args.join(", ")
        );
    }
    let outs: Vec<String> = graph
        .outputs
        .iter()
        .map(|o| format!("%{}", number(*o, &mut names)))
        .collect();
    let _ = writeln!(out, "output {}", outs.join(", "));
    out
}

fn op_text(op: &Op) -> String {
    match op {
        Op::Opaque {
            domain, op_type, ..
        } if !domain.is_empty() => format!("{domain}::{op_type}"),
        _ => op.op_type().to_string(),
    }
}

fn attr_text(op: &Op) -> String {
    let mut parts: Vec<String> = match op {
        Op::Opaque { attrs, .. } => attrs
            .iter()
            .map(|a| format!("{}=<{} bytes>", a.name, a.encoded.len()))
            .collect(),
        _ => op
            .attrs()
            .iter()
            .map(|a| format!("{}={}", a.name, value_text(&a.value)))
            .collect(),
    };
    if parts.is_empty() {
        return String::new();
    }
    parts.sort();
    format!("[{}]", parts.join(", "))
}

fn value_text(value: &AttrValue) -> String {
    match value {
        AttrValue::Float(x) => format!("{x}"),
        AttrValue::Int(x) => format!("{x}"),
        AttrValue::String(s) => format!("{s:?}"),
        AttrValue::Tensor(t) if t.len() == 1 => match (t.to_f32_vec(), t.dtype().is_float()) {
            (Some(v), true) => format!("{} {}", t.dtype(), v[0]),
            _ => match t.to_i64_vec() {
                Some(v) => format!("{} {}", t.dtype(), v[0]),
                None => format!("const {}{:?}", t.dtype(), t.shape()),
            },
        },
        AttrValue::Tensor(t) => format!("const {}{:?}", t.dtype(), t.shape()),
        AttrValue::Floats(v) => format!("{v:?}"),
        AttrValue::Ints(v) => format!("{v:?}"),
        AttrValue::Strings(v) => format!("{v:?}"),
    }
}

fn type_text(graph: &Graph, v: ValueId) -> String {
    match &graph.value(v).ty {
        None => "?".to_string(),
        Some(ty) => match &ty.shape {
            None => format!("{}[..]", ty.dtype),
            Some(dims) => {
                let dims: Vec<String> = dims
                    .iter()
                    .map(|d| match d {
                        Dim::Known(n) => n.to_string(),
                        Dim::Named(s) => s.clone(),
                        Dim::Unknown => "?".to_string(),
                    })
                    .collect();
                format!("{}[{}]", ty.dtype, dims.join(","))
            }
        },
    }
}

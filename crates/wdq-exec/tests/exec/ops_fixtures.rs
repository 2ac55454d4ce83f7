//! Single-op conformance against onnxruntime: every `fixtures/ops` case is
//! loaded with wdq-onnx; tensor-family cases are run node by node and
//! compared with the expected outputs, and every case (both families) has
//! its output shapes inferred and compared with the expected arrays' shapes.

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::NpzReader;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use wdq_exec::{infer::infer_shapes, is_compute_op, tensor_ops, KernelContext, TensorValue};
use wdq_ir::{Model, Op, TensorType, ValueDef};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ops")
}

/// Reads every array of an npz file, whatever its element type.
fn read_npz(path: &Path) -> HashMap<String, TensorValue> {
    let mut npz = NpzReader::new(File::open(path).unwrap()).unwrap();
    let mut out = HashMap::new();
    for name in npz.names().unwrap() {
        let v = if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::F32(a)
        } else if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::I64(a)
        } else if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::Bool(a)
        } else if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::I32(a)
        } else if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::I8(a)
        } else if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::U8(a)
        } else if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::F64(a)
        } else {
            panic!(
                "{}: array {name} has an element type this test does not read",
                path.display()
            );
        };
        out.insert(name, v);
    }
    out
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".onnx").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

struct Case {
    model: Model,
    inputs: HashMap<String, TensorValue>,
    expected: HashMap<String, TensorValue>,
}

fn load(name: &str) -> Option<Case> {
    let dir = fixture_dir();
    let expected = dir.join(format!("{name}.expected.npz"));
    if !expected.exists() {
        return None;
    }
    Some(Case {
        model: wdq_onnx::load_model(&dir.join(format!("{name}.onnx"))).unwrap(),
        inputs: read_npz(&dir.join(format!("{name}.inputs.npz"))),
        expected: read_npz(&expected),
    })
}

/// Runs the graph node by node with the kernels.
fn execute(case: &Case) -> Result<HashMap<String, TensorValue>, String> {
    let g = &case.model.graph;
    let ctx = KernelContext {
        opset: case.model.default_opset().unwrap_or(21),
    };
    let mut env: Vec<Option<TensorValue>> = vec![None; g.values.len()];
    for (i, v) in g.values.iter().enumerate() {
        if let Some(x) = case.inputs.get(&v.name) {
            env[i] = Some(x.clone());
        } else if let ValueDef::Initializer(t) = &v.def {
            env[i] = Some(TensorValue::from_tensor(t).map_err(|e| e.to_string())?);
        }
    }
    for (_, node) in g.live_nodes() {
        let inputs: Vec<Option<&TensorValue>> = node
            .inputs
            .iter()
            .map(|i| i.and_then(|v| env[v.index()].as_ref()))
            .collect();
        let outs = if is_compute_op(&node.op) {
            wdq_exec::run_op(&node.op, ctx, &inputs)
        } else {
            tensor_ops::run_with_outputs(&node.op, ctx, &inputs, Some(node.outputs.len()))
        }
        .map_err(|e| format!("{} ({}): {e}", node.name, node.op.op_type()))?;
        for (slot, v) in node.outputs.iter().enumerate() {
            if let (Some(v), Some(Some(x))) = (v, outs.get(slot)) {
                env[v.index()] = Some(x.clone());
            }
        }
    }
    Ok(g.outputs
        .iter()
        .filter_map(|&o| Some((g.value(o).name.clone(), env[o.index()].clone()?)))
        .collect())
}

fn as_f64(v: &TensorValue) -> ArrayD<f64> {
    match v {
        TensorValue::F32(a) => a.mapv(f64::from),
        TensorValue::F64(a) => a.clone(),
        TensorValue::I64(a) => a.mapv(|x| x as f64),
        TensorValue::I32(a) => a.mapv(f64::from),
        TensorValue::I8(a) | TensorValue::I4(a) => a.mapv(f64::from),
        TensorValue::U8(a) | TensorValue::U4(a) => a.mapv(f64::from),
        TensorValue::Bool(a) => a.mapv(|x| f64::from(u8::from(x))),
    }
}

fn compare(name: &str, got: &TensorValue, want: &TensorValue) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!(
            "{name}: shape {:?}, expected {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let (g, w) = (as_f64(got), as_f64(want));
    let exact = !matches!(want, TensorValue::F32(_) | TensorValue::F64(_));
    for (i, (a, b)) in g.iter().zip(w.iter()).enumerate() {
        let ok = if exact {
            a == b
        } else {
            (a - b).abs() <= 1e-4 * (1.0 + b.abs())
        };
        if !ok {
            return Err(format!("{name}: element {i} is {a}, expected {b}"));
        }
    }
    Ok(())
}

#[test]
fn tensor_op_cases_match_onnxruntime() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for name in cases() {
        let Some(case) = load(&name) else { continue };
        let tensor_only = case
            .model
            .graph
            .live_nodes()
            .all(|(_, n)| !is_compute_op(&n.op) && !matches!(n.op, Op::Opaque { .. }));
        if !tensor_only {
            continue;
        }
        ran += 1;
        let result = execute(&case).and_then(|got| {
            case.expected.iter().try_for_each(|(out, want)| {
                let got = got.get(out).ok_or(format!("output {out} missing"))?;
                compare(out, got, want)
            })
        });
        if let Err(e) = result {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(ran > 50, "only {ran} tensor-op cases found");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn inferred_shapes_match_onnxruntime() {
    let mut failures = Vec::new();
    for name in cases() {
        let Some(mut case) = load(&name) else {
            continue;
        };
        let graph_inputs: Vec<String> = case
            .model
            .graph
            .inputs
            .iter()
            .map(|&i| case.model.graph.value(i).name.clone())
            .collect();
        let shapes: Vec<(String, Vec<usize>)> = case
            .inputs
            .iter()
            .filter(|(n, _)| graph_inputs.contains(n))
            .map(|(n, v)| (n.clone(), v.shape().to_vec()))
            .collect();
        if let Err(e) = infer_shapes(&mut case.model, &shapes) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        let g = &case.model.graph;
        for &o in &g.outputs {
            let v = g.value(o);
            let Some(want) = case.expected.get(&v.name) else {
                continue;
            };
            let got = v.ty.as_ref().and_then(TensorType::concrete_shape);
            if got.as_deref() != Some(want.shape()) {
                failures.push(format!(
                    "{name}: {} inferred {got:?}, expected {:?}",
                    v.name,
                    want.shape()
                ));
            }
            let dtype = v.ty.as_ref().map(|t| t.dtype);
            let want_dtype = match want.dtype() {
                wdq_ir::DType::I8 if dtype == Some(wdq_ir::DType::I4) => dtype,
                wdq_ir::DType::U8 if dtype == Some(wdq_ir::DType::U4) => dtype,
                d => Some(d),
            };
            if dtype != want_dtype {
                failures.push(format!(
                    "{name}: {} inferred type {dtype:?}, expected {:?}",
                    v.name,
                    want.dtype()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! Whole-model fixtures (`fixtures/models`, batch 4): inferred output shapes
//! equal onnxruntime's, and after `fold_with_input_shapes` the models still
//! verify, keep their weighted layers, and compute onnxruntime's outputs.

use ndarray::IxDyn;
use ndarray_npy::NpzReader;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use wdq_exec::fold::fold_with_input_shapes;
use wdq_exec::infer::infer_shapes;
use wdq_exec::{is_compute_op, tensor_ops, KernelContext, TensorValue};
use wdq_ir::{Model, Op, TensorType, ValueDef};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/models")
}

fn read_npz(path: &Path) -> HashMap<String, TensorValue> {
    let mut npz = NpzReader::new(File::open(path).unwrap()).unwrap();
    let mut out = HashMap::new();
    for name in npz.names().unwrap() {
        let v = if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::F32(a)
        } else if let Ok(a) = npz.by_name::<_, IxDyn>(&name) {
            TensorValue::I64(a)
        } else {
            panic!("{}: array {name} is neither f32 nor i64", path.display());
        };
        out.insert(name, v);
    }
    out
}

type Arrays = HashMap<String, TensorValue>;
/// (name, model, inputs, expected).
type Fixture = (String, Model, Arrays, Arrays);

/// Every model with onnxruntime outputs.
fn fixtures() -> Vec<Fixture> {
    let dir = models_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".expected.npz")
                .map(str::to_string)
        })
        // Fixtures whose data is not `NAME.inputs.npz` (several data files
        // for one model, or fixed inputs) are tested in onnx-wdq.
        .filter(|n| {
            dir.join(format!("{n}.onnx")).exists() && dir.join(format!("{n}.inputs.npz")).exists()
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let model = wdq_onnx::load_model(&dir.join(format!("{n}.onnx"))).unwrap();
            let inputs = read_npz(&dir.join(format!("{n}.inputs.npz")));
            let expected = read_npz(&dir.join(format!("{n}.expected.npz")));
            (n, model, inputs, expected)
        })
        .collect()
}

fn input_shapes(model: &Model, inputs: &HashMap<String, TensorValue>) -> Vec<(String, Vec<usize>)> {
    let g = &model.graph;
    g.inputs
        .iter()
        .filter_map(|&i| {
            let name = &g.value(i).name;
            inputs.get(name).map(|v| (name.clone(), v.shape().to_vec()))
        })
        .collect()
}

#[test]
fn inferred_output_shapes_match() {
    let all = fixtures();
    assert!(all.len() >= 8, "only {} model fixtures", all.len());
    for (name, mut model, inputs, expected) in all {
        let shapes = input_shapes(&model, &inputs);
        assert!(
            shapes.iter().all(|(_, s)| s[0] == 4),
            "{name}: batch is not 4"
        );
        let summary = infer_shapes(&mut model, &shapes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            summary.unknown.is_empty(),
            "{name}: unknown shapes {:?}",
            summary.unknown
        );
        let g = &model.graph;
        for &o in &g.outputs {
            let v = g.value(o);
            let want = expected
                .get(&v.name)
                .unwrap_or_else(|| panic!("{name}: no expected {}", v.name));
            let got = v.ty.as_ref().and_then(TensorType::concrete_shape);
            assert_eq!(
                got.as_deref(),
                Some(want.shape()),
                "{name}: output {}",
                v.name
            );
        }
    }
}

#[test]
fn custom_op_model_infers_without_error() {
    let mut model = wdq_onnx::load_model(&models_dir().join("custom_op.onnx")).unwrap();
    let g = &model.graph;
    let shapes: Vec<(String, Vec<usize>)> = g
        .inputs
        .iter()
        .filter(|&&i| !matches!(g.value(i).def, ValueDef::Initializer(_)))
        .filter_map(|&i| {
            let v = g.value(i);
            let dims = v.ty.as_ref()?.shape.as_ref()?;
            let shape = dims.iter().map(|d| match d {
                wdq_ir::Dim::Known(n) => *n,
                _ => 4,
            });
            Some((v.name.clone(), shape.collect()))
        })
        .collect();
    infer_shapes(&mut model, &shapes).unwrap();
}

/// Runs the graph node by node with the kernels.
fn execute(model: &Model, inputs: &HashMap<String, TensorValue>) -> HashMap<String, TensorValue> {
    let g = &model.graph;
    let ctx = KernelContext {
        opset: model.default_opset().unwrap_or(21),
    };
    let mut env: Vec<Option<TensorValue>> = vec![None; g.values.len()];
    for (i, v) in g.values.iter().enumerate() {
        if let Some(x) = inputs.get(&v.name) {
            env[i] = Some(x.clone());
        } else if let ValueDef::Initializer(t) = &v.def {
            env[i] = TensorValue::from_tensor(t).ok();
        }
    }
    for (_, node) in g.live_nodes() {
        let ins: Vec<Option<&TensorValue>> = node
            .inputs
            .iter()
            .map(|i| i.and_then(|v| env[v.index()].as_ref()))
            .collect();
        let outs = if is_compute_op(&node.op) {
            wdq_exec::run_op(&node.op, ctx, &ins)
        } else {
            tensor_ops::run_with_outputs(&node.op, ctx, &ins, Some(node.outputs.len()))
        }
        .unwrap_or_else(|e| panic!("{} ({}): {e}", node.name, node.op.op_type()));
        for (slot, v) in node.outputs.iter().enumerate() {
            if let (Some(v), Some(Some(x))) = (v, outs.get(slot)) {
                env[v.index()] = Some(x.clone());
            }
        }
    }
    g.outputs
        .iter()
        .filter_map(|&o| Some((g.value(o).name.clone(), env[o.index()].clone()?)))
        .collect()
}

#[test]
fn folded_models_verify_and_compute_the_same_outputs() {
    for (name, mut model, inputs, expected) in fixtures() {
        let layers_before = wdq_ir::weighted_layers(&model.graph).len();
        let shapes = input_shapes(&model, &inputs);
        let summary =
            fold_with_input_shapes(&mut model, &shapes).unwrap_or_else(|e| panic!("{name}: {e}"));
        wdq_ir::verify(&model.graph).unwrap();
        // Folding never hides a layer's weight; it reveals weights computed
        // by constant sub-graphs (const_weights: 0 layers before, 2 after).
        let layers_after = wdq_ir::weighted_layers(&model.graph).len();
        assert!(
            layers_after >= layers_before,
            "{name}: weighted layers {layers_before} -> {layers_after}"
        );
        if name == "const_weights" {
            assert_eq!((layers_before, layers_after), (0, 2));
        }
        let live: Vec<&str> = model
            .graph
            .live_nodes()
            .map(|(_, n)| n.op.op_type())
            .collect();
        if name == "torch_style" {
            assert!(summary.shapes_resolved >= 1, "{summary:?}");
            for gone in [
                "Shape",
                "Gather",
                "Unsqueeze",
                "Concat",
                "ConstantOfShape",
                "Cast",
            ] {
                assert!(
                    !live.contains(&gone),
                    "torch_style still runs {gone}: {live:?}"
                );
            }
            let (_, reshape) = model
                .graph
                .live_nodes()
                .find(|(_, n)| matches!(n.op, Op::Reshape(_)))
                .unwrap();
            let spec = reshape.input(1).unwrap();
            assert!(
                matches!(model.graph.value(spec).def, ValueDef::Initializer(_)),
                "Reshape shape is not constant"
            );
        }
        if live.contains(&"QuantizeLinear") || name.contains("int4") {
            // QDQ nodes stay; the executor's QDQ kernels are checked by the ops fixtures.
            assert!(
                live.contains(&"DequantizeLinear"),
                "{name}: DequantizeLinear folded"
            );
        }
        let got = execute(&model, &inputs);
        for (out, want) in &expected {
            let g = got
                .get(out)
                .unwrap_or_else(|| panic!("{name}: output {out} missing"));
            assert_eq!(g.shape(), want.shape(), "{name}: {out}");
            let (g, w) = (g.as_f32().unwrap(), want.as_f32().unwrap());
            for (a, b) in g.iter().zip(w.iter()) {
                assert!(
                    (a - b).abs() <= 1e-3 * (1.0 + b.abs()),
                    "{name}: {out}: {a} vs {b}"
                );
            }
        }
    }
}

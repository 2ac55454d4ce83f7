//! Structure-aware fuzzing: fixture protobufs with random semantic faults
//! (types, dims, names, attributes) must import to a model or an error,
//! never a panic; what imports must export, re-import identically (after
//! the first export has left out unread initializers) and go through opset
//! conversion without a panic.

use super::common::{float_type, onnx_files, value_info};
use prost::Message;
use wdq_onnx::{convert_opset, decode_model, encode_model, pb};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(model: &mut pb::ModelProto, rng: &mut Rng) {
    let Some(graph) = model.graph.as_mut() else {
        return;
    };
    let names: Vec<String> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().cloned())
        .chain(graph.initializer.iter().filter_map(|t| t.name.clone()))
        .collect();
    let pick = |rng: &mut Rng| {
        names
            .get(rng.below(names.len()))
            .cloned()
            .unwrap_or_default()
    };
    match rng.below(13) {
        11 => {
            let rank = rng.below(5);
            let dims: Vec<Option<i64>> = (0..rank).map(|_| Some(rng.below(4) as i64)).collect();
            graph
                .value_info
                .push(value_info(&pick(rng), Some(float_type(&dims))));
        }
        0 if !graph.initializer.is_empty() => {
            let i = rng.below(graph.initializer.len());
            graph.initializer[i].data_type = Some(rng.below(30) as i32);
        }
        1 if !graph.initializer.is_empty() => {
            let i = rng.below(graph.initializer.len());
            let t = &mut graph.initializer[i];
            match rng.below(3) {
                0 => t.dims.push(rng.below(5) as i64),
                1 => t.dims.pop().map_or((), drop),
                _ => t.dims = vec![-(rng.below(3) as i64)],
            }
        }
        2 if !graph.initializer.is_empty() => {
            let i = rng.below(graph.initializer.len());
            graph.initializer.remove(i);
        }
        3 if !graph.node.is_empty() => {
            let i = rng.below(graph.node.len());
            let n = &mut graph.node[i];
            if !n.input.is_empty() {
                let j = rng.below(n.input.len());
                n.input[j] = pick(rng);
            }
        }
        4 if !graph.node.is_empty() => {
            let i = rng.below(graph.node.len());
            let n = &mut graph.node[i];
            if !n.output.is_empty() {
                let j = rng.below(n.output.len());
                n.output[j] = pick(rng);
            }
        }
        5 if graph.node.len() > 1 => {
            let i = rng.below(graph.node.len());
            let j = rng.below(graph.node.len());
            graph.node.swap(i, j);
        }
        6 if !graph.node.is_empty() => {
            let i = rng.below(graph.node.len());
            let n = &mut graph.node[i];
            if !n.attribute.is_empty() {
                let j = rng.below(n.attribute.len());
                let a = &mut n.attribute[j];
                match rng.below(4) {
                    0 => a.r#type = Some(rng.below(16) as i32),
                    1 => a.ref_attr_name = Some("r".into()),
                    2 => a.s = Some(vec![0xff, 0xfe]),
                    _ => a.ints.push(rng.next() as i64),
                }
            }
        }
        7 if !graph.node.is_empty() => {
            let i = rng.below(graph.node.len());
            let ops = [
                "Softmax", "Squeeze", "Upsample", "Resize", "Clip", "Pad", "Split", "If", "Mystery",
            ];
            graph.node[i].op_type = Some(ops[rng.below(ops.len())].into());
        }
        8 => graph.output.push(pb::ValueInfoProto {
            name: Some(pick(rng)),
            ..Default::default()
        }),
        9 => model.opset_import[0].version = Some(1 + rng.below(22) as i64),
        10 if !graph.input.is_empty() => {
            let i = rng.below(graph.input.len());
            graph.input[i].name = Some(pick(rng));
        }
        _ => {
            if let Some(t) = graph.initializer.first_mut() {
                t.raw_data = t.raw_data.take().map(|mut r| {
                    r.truncate(r.len() / 2);
                    r
                });
            }
        }
    }
}

fn run(folders: &[&str], iterations: usize) {
    let files: Vec<_> = folders.iter().flat_map(|f| onnx_files(f)).collect();
    assert!(!files.is_empty());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut imported = 0;
    for file in files.iter().filter(|f| !f.ends_with("external_data.onnx")) {
        let original = pb::ModelProto::decode(std::fs::read(file).unwrap().as_slice()).unwrap();
        for _ in 0..iterations {
            let mut proto = original.clone();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut proto, &mut rng);
            }
            let Ok(mut model) = decode_model(&proto.encode_to_vec(), None) else {
                continue;
            };
            imported += 1;
            // Export leaves out initializers nothing reads, so the first
            // round trip may shrink the arena; from then on it is exact.
            // Bytes are compared, as mutated data may hold NaNs.
            let bytes = encode_model(&model).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let first = decode_model(&bytes, None).unwrap();
            let again = encode_model(&first).unwrap();
            assert!(
                bytes == again,
                "{}: mutated model changed on round trip",
                file.display()
            );
            if convert_opset(&mut model, 21).is_ok() {
                let bytes = encode_model(&model).unwrap();
                decode_model(&bytes, None).unwrap();
            }
        }
    }
    assert!(imported > 0);
}

#[test]
fn mutated_models_import_or_fail_cleanly() {
    run(&["models"], 60);
}

/// The same, longer: `cargo test -p wdq-onnx -- --ignored`.
#[test]
#[ignore]
fn mutated_models_long_run() {
    run(&["models", "ops", "digits"], 400);
}

/// The external-data loader under mutation: locations, offsets and lengths
/// of the fixture's external tensors replaced by random and hostile values
/// (huge, negative, past the end, leaving the folder, a device) must import
/// or fail with [`wdq_onnx::OnnxError::ExternalData`], never panic or
/// allocate what the file does not hold.
#[test]
fn mutated_external_data_imports_or_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let models = super::common::fixtures().join("models");
    let data = "external_data.onnx.data";
    std::fs::copy(models.join(data), dir.path().join(data)).unwrap();
    let bytes = std::fs::read(models.join("external_data.onnx")).unwrap();
    let original = pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let size = std::fs::metadata(dir.path().join(data)).unwrap().len();
    let locations = [
        data,
        "missing.bin",
        "../x",
        "",
        "/dev/zero",
        "./external_data.onnx.data",
    ];
    let numbers = [
        "0".to_string(),
        "-1".to_string(),
        size.to_string(),
        (size + 1).to_string(),
        u64::MAX.to_string(),
        "4096".to_string(),
        "1e9".to_string(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut imported, mut refused) = (0, 0);
    for _ in 0..200 {
        let mut proto = original.clone();
        let graph = proto.graph.as_mut().unwrap();
        let n = graph.initializer.len();
        let t = &mut graph.initializer[rng.below(n)];
        for entry in t.external_data.iter_mut() {
            if rng.below(2) == 0 {
                continue;
            }
            entry.value = Some(match entry.key.as_deref() {
                Some("location") => locations[rng.below(locations.len())].to_string(),
                _ => numbers[rng.below(numbers.len())].clone(),
            });
        }
        if rng.below(4) == 0 {
            for key in ["offset", "length"] {
                t.external_data.push(pb::StringStringEntryProto {
                    key: Some(key.into()),
                    value: Some(numbers[rng.below(numbers.len())].clone()),
                });
            }
        }
        match decode_model(&proto.encode_to_vec(), Some(dir.path())) {
            Ok(_) => imported += 1,
            Err(
                wdq_onnx::OnnxError::ExternalData { .. } | wdq_onnx::OnnxError::BadTensor { .. },
            ) => refused += 1,
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }
    assert!(
        imported > 0 && refused > 0,
        "{imported} imported, {refused} refused"
    );
}

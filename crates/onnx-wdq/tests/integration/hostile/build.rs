//! Builders of hostile files: `.npy` bytes, `.npz` archives (one with a
//! lying entry size), and fixture models with one fault each.

use crate::common::root;
use prost::Message;
use std::io::Write;
use std::path::Path;
use wdq_onnx::pb;

/// An `.npy` (version 1 or 2) with `descr`, `shape` (Python tuple text) and
/// `data`; `header_len` overrides the header length field when given.
pub fn npy(descr: &str, shape: &str, data: &[u8], header_len: Option<u32>) -> Vec<u8> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let mut header = dict.into_bytes();
    while (header.len() + 13) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x02\x00".to_vec();
    out.extend(header_len.unwrap_or(header.len() as u32).to_le_bytes());
    out.extend(header);
    out.extend(data);
    out
}

/// `n` little-endian f32 values of `x`.
pub fn f32s(n: usize, x: f32) -> Vec<u8> {
    (0..n).flat_map(|_| x.to_le_bytes()).collect()
}

/// An `.npz` with `(entry name, bytes)` entries, deflated.
pub fn npz(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// An `.npz` whose one entry, `input.npy` ([4, 64] f32), inflates to 16 MiB
/// more than the size its zip headers declare.
pub fn npz_inflating(path: &Path) {
    let array = npy("<f4", "(4, 64)", &f32s(256, 0.5), None);
    let declared = array.len() as u32;
    let mut bytes = array;
    bytes.extend(vec![0u8; 16 << 20]);
    let stored = std::env::temp_dir().join(format!("inflating-{}.npz", std::process::id()));
    npz(&stored, &[("input.npy", bytes)]);
    let mut zip = std::fs::read(&stored).unwrap();
    std::fs::remove_file(&stored).unwrap();
    // Local header: uncompressed size at 22; central directory entry
    // (signature PK\x01\x02): uncompressed size at 24.
    zip[22..26].copy_from_slice(&declared.to_le_bytes());
    let central = zip
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    zip[central + 24..central + 28].copy_from_slice(&declared.to_le_bytes());
    std::fs::write(path, zip).unwrap();
}

/// The fixture model `name` (under fixtures/models) as a protobuf.
pub fn fixture_model(name: &str) -> pb::ModelProto {
    let bytes = std::fs::read(root().join("fixtures/models").join(name)).unwrap();
    pb::ModelProto::decode(bytes.as_slice()).unwrap()
}

/// Writes `fixture` changed by `change` to `path`.
pub fn model_with(path: &Path, fixture: &str, change: impl FnOnce(&mut pb::ModelProto)) {
    let mut m = fixture_model(fixture);
    change(&mut m);
    std::fs::write(path, m.encode_to_vec()).unwrap();
}

/// The graph of a model.
pub fn graph(m: &mut pb::ModelProto) -> &mut pb::GraphProto {
    m.graph.as_mut().unwrap()
}

/// Sets dimension `axis` of graph input 0 to `value`.
pub fn set_input_dim(m: &mut pb::ModelProto, axis: usize, value: i64) {
    let input = &mut graph(m).input[0];
    let Some(pb::type_proto::Value::TensorType(t)) =
        input.r#type.as_mut().and_then(|t| t.value.as_mut())
    else {
        panic!("fixture input is a tensor")
    };
    let dim = &mut t.shape.as_mut().unwrap().dim[axis];
    dim.value = Some(pb::tensor_shape_proto::dimension::Value::DimValue(value));
}

/// The first float initializer `name`'s values replaced by `x`.
pub fn poison_initializer(m: &mut pb::ModelProto, name: &str, x: f32) {
    let t = graph(m)
        .initializer
        .iter_mut()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap();
    let n: i64 = t.dims.iter().product();
    t.float_data.clear();
    t.raw_data = Some(f32s(n as usize, x));
}

/// Makes a named pipe at `path`; false when `mkfifo` is unavailable.
pub fn fifo(path: &Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// A symbolic link at `link` to `target` (unix only).
pub fn symlink(target: &str, link: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(not(unix))]
    let _ = (target, link);
}

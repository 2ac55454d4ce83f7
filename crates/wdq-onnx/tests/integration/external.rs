//! External tensor data: resolved relative to the model's folder, checked
//! for range and for paths that leave the folder; saving is atomic.

use super::common::{bytes, fixtures, model, node, relu_graph};
use std::path::Path;
use wdq_onnx::{decode_model, encode_model, load_model, pb, save_model, OnnxError};

#[test]
fn fixture_with_external_data_loads_and_inlines() {
    let path = fixtures().join("models/external_data.onnx");
    let m = load_model(&path).unwrap();
    let initializers = m
        .graph
        .values
        .iter()
        .filter(|v| matches!(v.def, wdq_ir::ValueDef::Initializer(_)))
        .count();
    assert!(initializers >= 6);
    let bytes = std::fs::read(&path).unwrap();
    let err = decode_model(&bytes, None).unwrap_err();
    assert!(matches!(err, OnnxError::ExternalData { .. }), "{err}");
    let inline = decode_model(&encode_model(&m).unwrap(), None).unwrap();
    assert!(inline == m);
}

fn external_model(location: &str, offset: Option<&str>, length: Option<&str>) -> pb::ModelProto {
    let mut entries = vec![("location", location)];
    entries.extend(offset.map(|o| ("offset", o)));
    entries.extend(length.map(|l| ("length", l)));
    let mut graph = relu_graph();
    graph.node = vec![node("Add", "add", &["x", "w"], &["y"])];
    graph.initializer = vec![pb::TensorProto {
        name: Some("w".into()),
        dims: vec![4],
        data_type: Some(1),
        data_location: Some(pb::tensor_proto::DataLocation::External as i32),
        external_data: entries
            .into_iter()
            .map(|(k, v)| pb::StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v.into()),
            })
            .collect(),
        ..Default::default()
    }];
    model(graph, 13)
}

fn expect_external_error(dir: &Path, m: &pb::ModelProto, needle: &str) {
    let err = decode_model(&bytes(m), Some(dir)).unwrap_err();
    match &err {
        OnnxError::ExternalData { tensor, why, .. } => {
            assert_eq!(tensor, "w");
            assert!(why.contains(needle), "{why}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn external_data_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(dir.path().join("w.bin"), &data).unwrap();
    let ok = decode_model(
        &bytes(&external_model("w.bin", Some("4"), Some("16"))),
        Some(dir.path()),
    )
    .unwrap();
    let w = ok.graph.value_by_name("w").unwrap();
    let (_, t) = ok.graph.resolve_const(w).unwrap();
    assert_eq!(t.as_f32().unwrap(), &[2.0, 3.0, 4.0, 5.0]);
    expect_external_error(
        dir.path(),
        &external_model("missing.bin", None, None),
        "cannot open",
    );
    expect_external_error(
        dir.path(),
        &external_model("w.bin", Some("400"), None),
        "past the end",
    );
    expect_external_error(
        dir.path(),
        &external_model("w.bin", Some("8"), Some("16")),
        "past the end",
    );
    expect_external_error(
        dir.path(),
        &external_model("w.bin", Some("-1"), None),
        "not a non-negative integer",
    );
    expect_external_error(
        dir.path(),
        &external_model("../w.bin", None, None),
        "leaves the model's folder",
    );
    expect_external_error(
        dir.path(),
        &external_model("/etc/passwd", None, None),
        "leaves the model's folder",
    );
    let err = decode_model(
        &bytes(&external_model("w.bin", Some("0"), Some("20"))),
        Some(dir.path()),
    )
    .unwrap_err();
    assert!(
        matches!(&err, OnnxError::BadTensor { tensor, .. } if tensor == "w"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_folder_is_refused() {
    let outer = tempfile::tempdir().unwrap();
    let inner = outer.path().join("model");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(outer.path().join("secret.bin"), [0u8; 16]).unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret.bin"), inner.join("w.bin")).unwrap();
    expect_external_error(
        &inner,
        &external_model("w.bin", None, None),
        "leaves the model's folder",
    );
}

#[test]
fn save_is_atomic_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let m = load_model(&fixtures().join("models/external_data.onnx")).unwrap();
    let out = dir.path().join("saved.onnx");
    std::fs::write(&out, b"previous").unwrap();
    save_model(&m, &out).unwrap();
    assert!(load_model(&out).unwrap() == m);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "temporary files left behind");
    let err = save_model(&m, &dir.path().join("no/such/folder/x.onnx")).unwrap_err();
    assert!(matches!(err, OnnxError::Io { .. }), "{err}");
    let mut broken = m.clone();
    broken.graph.outputs.push(wdq_ir::ValueId(9999));
    assert!(save_model(&broken, &out).is_err());
    assert!(
        load_model(&out).unwrap() == m,
        "a failed save changed the file"
    );
}

#[test]
fn truncated_data_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let models = fixtures().join("models");
    std::fs::copy(models.join("external_data.onnx"), dir.path().join("m.onnx")).unwrap();
    let data = std::fs::read(models.join("external_data.onnx.data")).unwrap();
    std::fs::write(
        dir.path().join("external_data.onnx.data"),
        &data[..data.len() / 2],
    )
    .unwrap();
    let err = load_model(&dir.path().join("m.onnx")).unwrap_err();
    assert!(matches!(err, OnnxError::ExternalData { .. }), "{err}");
    assert!(err.to_string().contains("external_data.onnx.data"), "{err}");
}

/// A device or a pipe inside the folder is refused before it is opened:
/// `/dev/zero` would be read until memory runs out, a pipe blocks `open`.
#[cfg(unix)]
#[test]
fn devices_and_pipes_are_refused_without_opening_them() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("w.bin")).unwrap();
    // The link leaves the folder: refused either way, and never read.
    expect_external_error(
        dir.path(),
        &external_model("w.bin", None, None),
        "leaves the model's folder",
    );
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("p.bin"))
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: the pipe case is skipped");
        return;
    }
    let (send, receive) = std::sync::mpsc::channel();
    let folder = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let m = external_model("p.bin", None, None);
        let _ = send.send(decode_model(&bytes(&m), Some(&folder)).map(drop));
    });
    let result = receive
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a pipe as external data must not block the import");
    let err = result.unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

/// An initializer that nothing reads is not read: a 3 GiB (sparse) tensor
/// beside a used one imports without allocating it.
#[test]
fn an_unread_external_initializer_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.bin"), [0u8; 16]).unwrap();
    let big = std::fs::File::create(dir.path().join("big.bin")).unwrap();
    big.set_len(3 << 30).unwrap();
    let mut m = external_model("w.bin", None, None);
    let graph = m.graph.as_mut().unwrap();
    let mut unused = graph.initializer[0].clone();
    unused.name = Some("unused".into());
    unused.dims = vec![3 << 28];
    for e in unused.external_data.iter_mut() {
        e.value = Some("big.bin".into());
    }
    graph.initializer.push(unused);
    let model = decode_model(&bytes(&m), Some(dir.path())).unwrap();
    assert!(model.graph.values.iter().all(|v| v.name != "unused"));
}

//! Reading a model from a file and writing one atomically.

use crate::external::ExternalResolver;
use crate::import::model_from_proto;
use crate::pb;
use crate::{encode_model, OnnxError};
use prost::Message;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wdq_ir::Model;

/// Reads and imports the model at `path`, resolving external tensor data
/// relative to the model's folder.
///
/// # Errors
/// [`OnnxError::Io`] when the file cannot be read, and any error of
/// [`crate::decode_model`], with the file named in [`OnnxError::Decode`].
pub fn load_model(path: &Path) -> Result<Model, OnnxError> {
    load_model_and_files(path).map(|(model, _)| model)
}

/// [`load_model`], and the external data files the model names (whether
/// its import read them or not): the files besides `path` that make up the
/// model, which no output may overwrite.
///
/// # Errors
/// As [`load_model`].
pub fn load_model_and_files(path: &Path) -> Result<(Model, Vec<PathBuf>), OnnxError> {
    let io = |source| OnnxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (mut file, size) = open_regular(path).map_err(io)?;
    if size == 0 {
        return Err(io(std::io::Error::other(
            "the file is empty (0 bytes), not an ONNX model",
        )));
    }
    let bytes = read_bounded(&mut file, size).map_err(io)?;
    let mut proto = pb::ModelProto::decode(bytes.as_slice()).map_err(|e| OnnxError::Decode {
        file: Some(path.to_path_buf()),
        reason: crate::error::decode_reason(&e),
    })?;
    drop(bytes);
    let base = path.parent().unwrap_or(Path::new(""));
    let resolver = ExternalResolver::new(Some(base));
    let files = proto
        .graph
        .as_mut()
        .map(|g| resolver.files(g))
        .unwrap_or_default();
    let model = model_from_proto(proto, &resolver).map_err(|e| match e {
        OnnxError::MissingGraph { .. } => OnnxError::MissingGraph {
            file: Some(path.to_path_buf()),
        },
        other => other,
    })?;
    Ok((model, files))
}

/// Opens `path` for reading if it is a regular file (symbolic links
/// followed) and returns it with its size. A pipe would block `open`, and a
/// device such as `/dev/zero` never ends: both are refused before opening.
///
/// # Errors
/// The I/O error, or `InvalidInput` saying what the path is instead.
pub fn open_regular(path: &Path) -> std::io::Result<(File, u64)> {
    let kind = |m: &std::fs::Metadata| {
        let t = m.file_type();
        if t.is_file() {
            None
        } else if t.is_dir() {
            Some("a folder")
        } else {
            Some("a device, pipe or socket")
        }
    };
    let not_regular = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file but {what}"),
        )
    };
    if let Some(what) = kind(&std::fs::metadata(path)?) {
        return Err(not_regular(what));
    }
    let file = File::open(path)?;
    let metadata = file.metadata()?;
    if let Some(what) = kind(&metadata) {
        return Err(not_regular(what));
    }
    Ok((file, metadata.len()))
}

/// Reads `length` bytes from `file`, allocating fallibly: a length that
/// does not fit in memory is an error, not an abort.
///
/// # Errors
/// `OutOfMemory` when the buffer cannot be allocated, or the read error.
pub fn read_bounded(file: &mut impl std::io::Read, length: u64) -> std::io::Result<Vec<u8>> {
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            format!("cannot allocate {length} bytes to read it"),
        )
    };
    let n = usize::try_from(length).map_err(|_| too_large())?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(n).map_err(|_| too_large())?;
    Read::take(&mut *file, length).read_to_end(&mut bytes)?;
    if bytes.len() != n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the file ended after {} of {length} bytes", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Encodes `model` and writes it to `path` atomically: the bytes go to a
/// temporary file in the same folder, which is synced and then renamed over
/// `path`. On failure `path` is left as it was.
///
/// # Errors
/// Any error of [`encode_model`], and [`OnnxError::Io`] when writing fails.
pub fn save_model(model: &Model, path: &Path) -> Result<(), OnnxError> {
    let bytes = encode_model(model)?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` through a synced temporary file in the same
/// folder and a rename, removing the temporary file on failure.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OnnxError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_error = |source| OnnxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io_error(std::io::Error::other("the path names no file")))?;
    let temp = folder.join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error(source));
    }
    if let Ok(dir) = File::open(&folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

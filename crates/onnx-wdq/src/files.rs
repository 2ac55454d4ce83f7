//! Output files: checked before any work (never an input, never each
//! other, never a device, in a writable folder) and written atomically: a
//! temporary file in the destination folder, flushed, then renamed over the
//! target, so that a failure never leaves a half-written file behind.
//! Several outputs are staged first and renamed together, so that either
//! all land or none does.

use std::io::Write;
use std::path::{Path, PathBuf};

/// An output path that must not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{option} {path} is the same file as {input} {input_path}: it would be overwritten; write the output elsewhere")]
    IsInput {
        option: String,
        path: PathBuf,
        input: String,
        input_path: PathBuf,
    },
    #[error("{option} {path} and {other} name the same file; give each output its own file")]
    Twice {
        option: String,
        path: PathBuf,
        other: String,
    },
    #[error("{option} {path} exists and is not a regular file (a folder, device or pipe); name a regular file")]
    NotRegular { option: String, path: PathBuf },
    #[error("{option} {path}: its folder {folder} is not writable: {source}")]
    Unwritable {
        option: String,
        path: PathBuf,
        folder: PathBuf,
        source: std::io::Error,
    },
}

/// What a path resolves to: the real folder and name, and the file's
/// identity (device, inode) when it exists, so that hard links compare equal.
#[derive(Debug, PartialEq)]
struct Resolved {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn resolve(path: &Path) -> Resolved {
    let real = path.canonicalize().ok().or_else(|| {
        let folder = folder_of(path).canonicalize().ok()?;
        Some(folder.join(path.file_name()?))
    });
    Resolved {
        path: real.unwrap_or_else(|| path.to_path_buf()),
        identity: std::fs::metadata(path).ok().map(|m| identity(&m)),
    }
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

fn same(a: &Resolved, b: &Resolved) -> bool {
    a.path == b.path || (a.identity.is_some() && a.identity == b.identity && cfg!(unix))
}

/// Checks, before any work, that every output (`(option, path)`) is
/// neither an input (`(what, path)`, compared after resolving `..`,
/// symbolic and hard links) nor another output, is a regular file when it
/// exists, and lies in a folder where a file can be created.
///
/// # Errors
/// [`OutputError`] naming the option and the path.
pub fn check_outputs(
    inputs: &[(&str, &Path)],
    outputs: &[(&str, &Path)],
) -> Result<(), OutputError> {
    check_not_inputs(inputs, outputs)?;
    let mut seen: Vec<(&str, Resolved)> = Vec::new();
    for &(option, path) in outputs {
        let resolved = resolve(path);
        if let Some((other, _)) = seen.iter().find(|(_, r)| same(r, &resolved)) {
            return Err(OutputError::Twice {
                option: option.to_string(),
                path: path.to_path_buf(),
                other: other.to_string(),
            });
        }
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(OutputError::NotRegular {
                option: option.to_string(),
                path: path.to_path_buf(),
            });
        }
        let folder = folder_of(path);
        temp_in(folder)
            .map_err(|source| OutputError::Unwritable {
                option: option.to_string(),
                path: path.to_path_buf(),
                folder: folder.to_path_buf(),
                source: without_temp_name(source, folder),
            })?
            .close()
            .ok();
        seen.push((option, resolved));
    }
    Ok(())
}

/// Checks that no output (`(option, path)`) is one of the inputs
/// (`(what, path)`), compared after resolving `..`, symbolic and hard links:
/// the part of [`check_outputs`] for inputs found later, such as a model's
/// external data files.
///
/// # Errors
/// [`OutputError::IsInput`] naming the option, the input and both paths.
pub fn check_not_inputs(
    inputs: &[(&str, &Path)],
    outputs: &[(&str, &Path)],
) -> Result<(), OutputError> {
    let inputs: Vec<(&str, &Path, Resolved)> =
        inputs.iter().map(|&(w, p)| (w, p, resolve(p))).collect();
    for &(option, path) in outputs {
        let resolved = resolve(path);
        if let Some((input, input_path, _)) = inputs.iter().find(|(_, _, r)| same(r, &resolved)) {
            return Err(OutputError::IsInput {
                option: option.to_string(),
                path: path.to_path_buf(),
                input: input.to_string(),
                input_path: input_path.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// The cause of an I/O error without the temporary file's name that
/// tempfile adds to it (the user never named that file): the folder's own
/// error when it cannot be read, else the error's kind.
fn without_temp_name(e: std::io::Error, folder: &Path) -> std::io::Error {
    match std::fs::metadata(folder) {
        Err(e) => e,
        Ok(m) if !m.is_dir() => std::io::Error::other("not a folder"),
        Ok(_) => e.kind().into(),
    }
}

fn temp_in(folder: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".onnx-wdq-")
        .suffix(".tmp")
        .tempfile_in(folder)
}

/// An output written to a temporary file next to its target, not yet
/// renamed over it. Dropped without [`commit`], the temporary file goes.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

/// Writes `path`'s future contents by calling `fill` on a temporary file in
/// its folder, flushed and synced, with the target's permissions when it
/// replaces a file.
///
/// # Errors
/// Any I/O error from creating, filling or syncing the file.
pub fn stage(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<Staged> {
    let mut tmp = temp_in(folder_of(path))?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    // Temporary files are created private (0600); the output gets the
    // target's permissions when it replaces a file, else ordinary ones.
    #[cfg(unix)]
    {
        let permissions = match std::fs::metadata(path) {
            Ok(m) => m.permissions(),
            Err(_) => default_permissions(),
        };
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.as_file().sync_all()?;
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
    })
}

/// Renames every staged file over its target. Staging did the writing, so
/// only a rename can fail here; then the targets renamed so far that did
/// not exist before are removed again, and the error names the path.
///
/// # Errors
/// The path whose rename failed, with the I/O error.
pub fn commit(staged: Vec<Staged>) -> Result<(), (PathBuf, std::io::Error)> {
    let mut landed: Vec<PathBuf> = Vec::new();
    for s in staged {
        let existed = s.path.exists();
        let path = s.path.clone();
        if let Err(e) = s.tmp.persist(&s.path) {
            for p in &landed {
                let _ = std::fs::remove_file(p);
            }
            return Err((path, e.error));
        }
        if !existed {
            landed.push(path);
        }
    }
    Ok(())
}

/// Writes `path` by calling `fill` on a temporary file next to it, then
/// renaming. On error the temporary file is removed and `path` is untouched.
///
/// # Errors
/// Any I/O error from creating, filling, syncing or renaming the file.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    commit(vec![stage(path, fill)?]).map_err(|(_, e)| e)
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_spelled_differently_from_the_input_is_still_the_input() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let model = dir.path().join("model.onnx");
        std::fs::write(&model, b"x").unwrap();
        let spelled = dir.path().join("sub/../model.onnx");
        let err = check_outputs(&[("the model", &model)], &[("-o", &spelled)]).unwrap_err();
        assert!(matches!(err, OutputError::IsInput { .. }), "{err}");
        assert!(err.to_string().contains("-o"), "{err}");
        let other = dir.path().join("out.onnx");
        let err = check_outputs(
            &[("the model", &model)],
            &[("-o", &other), ("--report", &dir.path().join("./out.onnx"))],
        )
        .unwrap_err();
        assert!(matches!(err, OutputError::Twice { .. }), "{err}");
        check_outputs(&[("the model", &model)], &[("-o", &other)]).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_link_to_the_input_and_a_device_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.onnx");
        std::fs::write(&model, b"x").unwrap();
        let link = dir.path().join("link.onnx");
        std::fs::hard_link(&model, &link).unwrap();
        let err = check_outputs(&[("the model", &model)], &[("-o", &link)]).unwrap_err();
        assert!(matches!(err, OutputError::IsInput { .. }), "{err}");
        let err = check_outputs(&[], &[("-o", Path::new("/dev/null"))]).unwrap_err();
        assert!(matches!(err, OutputError::NotRegular { .. }), "{err}");
        let err = check_outputs(&[], &[("-o", &dir.path().join("no/such/out.onnx"))]).unwrap_err();
        assert!(matches!(err, OutputError::Unwritable { .. }), "{err}");
    }

    #[test]
    fn a_failed_commit_removes_the_outputs_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.json");
        let blocked = dir.path().join("b.onnx");
        let a = stage(&first, |f| f.write_all(b"a")).unwrap();
        let b = stage(&blocked, |f| f.write_all(b"b")).unwrap();
        // A non-empty folder at the target makes its rename fail.
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"x").unwrap();
        let (path, _) = commit(vec![a, b]).unwrap_err();
        assert_eq!(path, blocked);
        assert!(!first.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the blocking folder remains");
    }
}

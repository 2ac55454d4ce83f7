//! Writing output files atomically: a temporary file in the destination
//! folder, flushed, then renamed over the target, so that a failure never
//! leaves a half-written file behind.

use std::io::Write;
use std::path::Path;

/// Writes `path` by calling `fill` on a temporary file next to it, then
/// renaming. On error the temporary file is removed and `path` is untouched.
///
/// # Errors
/// Any I/O error from creating, filling, syncing or renaming the file.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".onnx-wdq-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
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
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

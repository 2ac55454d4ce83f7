//! Shared helpers: the repository root, fixture paths, running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `rel` (from the repository root) as a command-line argument.
pub fn fixture(rel: &str) -> String {
    root().join(rel).to_string_lossy().into_owned()
}

/// Runs the `onnx-wdq` binary with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onnx-wdq"))
        .args(args)
        .output()
        .expect("binary runs")
}

//! `check`: a written model against a target's profile
//! ([`wdq_lower::check`]), rendered for the terminal.

use std::path::Path;
use wdq_lower::{CheckReport, Target};

/// Loads `path` as written (no folding) and checks it against `target`.
///
/// # Errors
/// [`wdq_onnx::OnnxError`] naming the file when it cannot be read.
pub fn check_file(path: &Path, target: Target) -> Result<CheckReport, wdq_onnx::OnnxError> {
    let model = wdq_onnx::load_model(path)?;
    Ok(wdq_lower::check(&model, target.profile()))
}

/// The report as text: one line when the model passes, else one line per
/// violation.
pub fn render(path: &Path, target: Target, report: &CheckReport) -> String {
    let name = target.profile().name;
    if report.violations.is_empty() {
        return format!(
            "{}: ok for {name} ({} quantized layers)\n",
            path.display(),
            report.quantized_layers
        );
    }
    let mut s = format!(
        "{}: {} violations of the {name} profile:\n",
        path.display(),
        report.violations.len()
    );
    for v in &report.violations {
        s += &format!("  {v}\n");
    }
    s
}

//! `--eval-command 'CMD {model}'`: an [`Evaluator`] that writes each
//! candidate to a temporary `.onnx` file, runs the command through the
//! shell with `{model}` replaced by that file's path (quoted), and reads
//! the score from its standard output: one number (the last non-empty
//! line), or a JSON object with a numeric `score` field. A command that
//! fails, or prints no score, stops the search with its exit code and
//! standard error.

use crate::quantize::{Evaluator, EvaluatorError, QuantizeError};
use std::process::Command;
use std::time::Instant;
use wdq_ir::Model;

/// The placeholder replaced by the candidate's path.
pub const PLACEHOLDER: &str = "{model}";

/// Runs a shell command per candidate.
pub struct CommandEvaluator {
    command: String,
    higher_is_better: bool,
    dir: tempfile::TempDir,
    runs: usize,
    seconds: f64,
}

impl CommandEvaluator {
    /// # Errors
    /// When `command` lacks `{model}` or no temporary folder can be made.
    pub fn new(command: &str, higher_is_better: bool) -> Result<CommandEvaluator, EvaluatorError> {
        if !command.contains(PLACEHOLDER) {
            return Err(EvaluatorError::new(format!(
                "--eval-command `{command}` has no {PLACEHOLDER} for the candidate model's path"
            )));
        }
        let dir = tempfile::Builder::new()
            .prefix("onnx-wdq-eval")
            .tempdir()
            .map_err(|e| EvaluatorError::new(format!("creating a temporary folder: {e}")))?;
        Ok(CommandEvaluator {
            command: command.to_string(),
            higher_is_better,
            dir,
            runs: 0,
            seconds: 0.0,
        })
    }

    /// How many times the command ran.
    pub fn runs(&self) -> usize {
        self.runs
    }
}

impl Evaluator for CommandEvaluator {
    fn metric(&self) -> String {
        format!("score of `{}`", self.command)
    }

    fn higher_is_better(&self) -> bool {
        self.higher_is_better
    }

    fn seconds(&self) -> Option<f64> {
        Some(self.seconds)
    }

    fn score(&mut self, model: &Model) -> Result<f64, QuantizeError> {
        Ok(self.run(model)?)
    }
}

impl CommandEvaluator {
    /// Writes `model`, runs the command on it and parses its score.
    fn run(&mut self, model: &Model) -> Result<f64, EvaluatorError> {
        let path = self
            .dir
            .path()
            .join(format!("candidate_{}.onnx", self.runs));
        wdq_onnx::save_model(model, &path).map_err(|e| {
            EvaluatorError::new(format!("writing the candidate {}: {e}", path.display()))
        })?;
        let line = self
            .command
            .replace(PLACEHOLDER, &shell_quote(&path.to_string_lossy()));
        let started = Instant::now();
        let output = Command::new("sh")
            .arg("-c")
            .arg(&line)
            .output()
            .map_err(|e| EvaluatorError::new(format!("running `{line}`: {e}")));
        self.seconds += started.elapsed().as_secs_f64();
        self.runs += 1;
        let _ = std::fs::remove_file(&path);
        let output = output?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if !output.status.success() {
            return Err(EvaluatorError {
                message: format!(
                    "--eval-command `{line}` failed ({}){}",
                    output
                        .status
                        .code()
                        .map_or("killed by a signal".to_string(), |c| format!(
                            "exit code {c}"
                        )),
                    if stderr.is_empty() {
                        String::new()
                    } else {
                        format!("; its standard error:\n{stderr}")
                    }
                ),
                exit_code: output.status.code(),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        parse_score(&stdout).ok_or_else(|| EvaluatorError {
            message: format!(
                "--eval-command `{line}` printed no score (one number, or JSON with a numeric \"score\") on its standard output: {:?}",
                stdout.trim()
            ),
            exit_code: Some(0),
        })
    }
}

/// The score in a command's standard output: JSON `{"score": x}` (the
/// whole output or its last line), or the last non-empty line as a number.
pub fn parse_score(stdout: &str) -> Option<f64> {
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let from_json = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("score").and_then(serde_json::Value::as_f64))
    };
    from_json(stdout.trim())
        .or_else(|| from_json(last))
        .or_else(|| last.parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

/// `text` in single quotes for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_from_numbers_and_json() {
        assert_eq!(parse_score("0.75\n"), Some(0.75));
        assert_eq!(parse_score("loading...\n  12.5  \n\n"), Some(12.5));
        assert_eq!(parse_score("{\"score\": 3, \"n\": 10}"), Some(3.0));
        assert_eq!(parse_score("log\n{\"score\": -1.5}\n"), Some(-1.5));
        assert_eq!(parse_score("{\"map\": 0.5}"), None);
        assert_eq!(parse_score("nan"), None);
        assert_eq!(parse_score(""), None);
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}

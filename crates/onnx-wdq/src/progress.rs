//! Progress display for fine-tuning and for `compare`'s evaluations
//! (indicatif, on stderr; nothing is drawn when stderr is not a terminal)
//! and the optional per-cycle snapshots.

use indicatif::{ProgressBar, ProgressStyle};
use onnx_wdq::data::save_npz;
use std::path::PathBuf;
use wdq_exec::TensorValue;
use wdq_train::{StepProgress, TrainObserver};

/// Draws one bar over all steps of all cycles and writes snapshots.
pub struct TrainProgress {
    bar: ProgressBar,
    cycles: usize,
    snapshots: Option<PathBuf>,
}

impl TrainProgress {
    /// A bar for `cycles` cycles; creates the snapshot folder if asked.
    ///
    /// # Errors
    /// When the snapshot folder cannot be created.
    pub fn new(cycles: usize, snapshots: Option<PathBuf>) -> anyhow::Result<TrainProgress> {
        if let Some(dir) = &snapshots {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps  {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Ok(TrainProgress {
            bar,
            cycles,
            snapshots,
        })
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl onnx_wdq::compare::CompareObserver for TrainProgress {
    fn on_evaluations(&mut self, phase: &str, count: usize) -> Box<dyn Fn() + Send + Sync> {
        self.bar.finish_and_clear();
        let bar = ProgressBar::new(count as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} evaluations  {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(phase.to_string());
        Box::new(move || {
            bar.inc(1);
            if bar.position() >= bar.length().unwrap_or(0) {
                bar.finish_and_clear();
            }
        })
    }
}

impl TrainObserver for TrainProgress {
    fn on_step(&mut self, p: &StepProgress) {
        if self.bar.length() == Some(0) {
            self.bar
                .set_length((p.steps_per_cycle * self.cycles) as u64);
        }
        self.bar
            .set_prefix(format!("cycle {}/{}", p.cycle, self.cycles));
        self.bar.set_message(format!(
            "loss {:.4}  {:.0} samples/s",
            p.loss, p.samples_per_second
        ));
        self.bar.inc(1);
    }

    fn on_cycle(&mut self, cycle: usize, params: &[(&str, &TensorValue)]) -> Result<(), String> {
        let Some(dir) = &self.snapshots else {
            return Ok(());
        };
        let arrays: Vec<(String, TensorValue)> = params
            .iter()
            .map(|(n, v)| (n.to_string(), (*v).clone()))
            .collect();
        save_npz(&dir.join(format!("cycle_{cycle}.npz")), &arrays).map_err(|e| e.to_string())
    }
}

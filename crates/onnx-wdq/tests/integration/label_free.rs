//! The method on unlabelled data and on any output: the main command
//! without labels, output-fidelity metrics on detection- and
//! embedding-style models, refusal of metrics that cannot tell candidates
//! apart, direct selections, and a user's evaluator command.

use crate::common::{fixture, run};
use ndarray::{ArrayD, IxDyn, OwnedRepr};
use ndarray_npy::{NpzReader, NpzWriter};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the main command on `model` with `--train`/`--val` and `extra`,
/// writing into `dir`; returns the output, the report and the model path.
fn main_command(
    dir: &Path,
    model: &str,
    train: &str,
    val: &str,
    extra: &[&str],
) -> (Output, serde_json::Value, PathBuf) {
    let written = dir.join("out.onnx");
    let report = dir.join("report.json");
    let _ = std::fs::remove_file(&report);
    let mut args: Vec<String> = [
        model,
        "-o",
        &written.to_string_lossy(),
        "--train",
        train,
        "--val",
        val,
        "--report",
        &report.to_string_lossy(),
        "--cycles",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&refs);
    let json = std::fs::read(&report)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_default();
    (out, json, written)
}

fn digits(dir: &Path, extra: &[&str]) -> (Output, serde_json::Value, PathBuf) {
    main_command(
        dir,
        &fixture("fixtures/digits/digits_cnn.onnx"),
        &fixture("fixtures/digits/train.npz"),
        &fixture("fixtures/digits/val.npz"),
        extra,
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `path` without its `labels` array, written to `dir`.
fn unlabelled(path: &str, dir: &Path, name: &str) -> String {
    let mut npz = NpzReader::new(File::open(path).unwrap()).unwrap();
    let x: ArrayD<f32> = npz.by_name::<OwnedRepr<f32>, IxDyn>("input").unwrap();
    let out = dir.join(name);
    let mut w = NpzWriter::new(File::create(&out).unwrap());
    w.add_array("input", &x).unwrap();
    w.finish().unwrap();
    out.to_string_lossy().into_owned()
}

#[test]
fn without_labels_the_drift_is_informative_and_agreement_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let train = unlabelled(&fixture("fixtures/digits/train.npz"), dir.path(), "t.npz");
    let val = unlabelled(&fixture("fixtures/digits/val.npz"), dir.path(), "v.npz");
    let model = fixture("fixtures/digits/digits_cnn.onnx");
    let (out, report, _) = main_command(dir.path(), &model, &train, &val, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["metric"], "top-1 agreement");
    assert!(report["loss_per_cycle"][0].as_f64().unwrap() > 0.0);
    for layer in report["layers"].as_array().unwrap() {
        assert!(layer["statistic"].as_f64().unwrap() > 0.0, "{layer}");
    }
    assert!(report["resolution"].as_f64().unwrap() > 0.27); // 100 / 360
}

#[test]
fn detection_and_embedding_outputs_default_to_sqnr() {
    for name in ["det_style", "embed_style"] {
        let dir = tempfile::tempdir().unwrap();
        let model = fixture(&format!("fixtures/label_free/{name}.onnx"));
        let train = fixture(&format!("fixtures/label_free/{name}_train.npz"));
        let val = fixture(&format!("fixtures/label_free/{name}_val.npz"));
        let (out, report, written) = main_command(dir.path(), &model, &train, &val, &[]);
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{name}: {}",
            stderr(&out)
        );
        assert!(written.exists());
        assert_eq!(report["metric"], "SQNR", "{name}");
        assert_eq!(report["unit"], "dB");
        assert!(report["threshold_meaning"]
            .as_str()
            .unwrap()
            .contains("at least 20"));
        let sqnr = report["final_accuracy"].as_f64().unwrap();
        let met = report["met_threshold"].as_bool().unwrap();
        assert_eq!(met, sqnr >= 20.0, "{name}: {sqnr} dB, met {met}");
        // A vacuous metric is refused, naming the output and what to use.
        let (out, _, _) =
            main_command(dir.path(), &model, &train, &val, &["--metric", "agreement"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("cannot tell candidates apart") && err.contains("sqnr"),
            "{err}"
        );
    }
}

#[test]
fn every_metric_reports_its_figure_unit_and_interval() {
    let dir = tempfile::tempdir().unwrap();
    for (metric, unit) in [
        ("top1", "% (losses in points)"),
        ("agreement", "% (losses in points)"),
        ("top5-agreement", "% (losses in points)"),
        ("sqnr", "dB"),
        ("rel-l2", "ratio"),
        ("cosine", "ratio"),
    ] {
        let (out, report, _) = digits(dir.path(), &["--metric", metric, "--select", "count:2"]);
        assert!(out.status.success(), "{metric}: {}", stderr(&out));
        assert_eq!(report["unit"], unit, "{metric}");
        let score = report["final_accuracy"].as_f64().unwrap();
        let interval = &report["final_interval"];
        let (low, high) = (
            interval["low"].as_f64().unwrap(),
            interval["high"].as_f64().unwrap(),
        );
        assert!(
            low <= score && score <= high,
            "{metric}: {score} not in [{low}, {high}]"
        );
        assert_eq!(report["low_bit_layers"], 2);
    }
}

#[test]
fn direct_selections_write_what_was_asked() {
    let dir = tempfile::tempdir().unwrap();
    // No --threshold: the selection is written and the run succeeds.
    let (out, report, _) = digits(dir.path(), &["--select", "count:5", "--low-bits", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["low_bit_layers"], 5);
    assert!(report["final_loss"].as_f64().is_some());
    // With a threshold it misses: still written as asked, exit 3.
    let (out, report, written) = digits(
        dir.path(),
        &["--select", "count:5", "--low-bits", "2", "--threshold", "0"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(report["low_bit_layers"], 5);
    assert!(written.exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("misses the threshold"));
    let (out, report, _) = digits(dir.path(), &["--select", "threshold:1e30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["low_bit_layers"], 5);
}

#[test]
fn the_guard_accepts_only_what_the_data_can_show() {
    let dir = tempfile::tempdir().unwrap();
    // 360 samples: one sample is 0.28 points, and an unchanged model's
    // upper bound is 0.54 points.
    let (out, report, _) = digits(dir.path(), &["--guard", "--threshold", "0.2"]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    assert_eq!(report["guard"], true);
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("below the resolution")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("too few")),
        "{warnings:?}"
    );
    assert_eq!(report["low_bit_layers"], 0);
}

/// A python3 that runs, or None with the reason printed.
fn python() -> Option<&'static str> {
    match Command::new("python3").arg("-c").arg("pass").status() {
        Ok(s) if s.success() => Some("python3"),
        _ => {
            eprintln!("skipped: python3 is not available to run the evaluator script");
            None
        }
    }
}

#[test]
fn an_evaluator_command_scores_every_candidate() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The score is the model file's size in kB (higher is better here, so
    // every low-bit layer "loses" score against all 8-bit): a 5.5 kB loss
    // allows some layers but not all five (6.1 kB).
    let script = dir.path().join("size.py");
    std::fs::write(
        &script,
        "import json, os, sys\nprint('scoring', sys.argv[1], file=sys.stderr)\nprint(json.dumps({'score': os.path.getsize(sys.argv[1]) / 1000}))\n",
    )
    .unwrap();
    let command = format!("{py} {} {{model}}", script.display());
    let (out, report, _) = digits(
        dir.path(),
        &[
            "--eval-command",
            &command,
            "--higher-is-better",
            "--threshold",
            "5.5",
            "--reference",
            "high",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(report["metric"].as_str().unwrap().contains("size.py"));
    assert!(report["evaluator_seconds"].as_f64().unwrap() > 0.0);
    let low = report["low_bit_layers"].as_u64().unwrap();
    assert!(low > 0 && low < 5, "{low}");
    assert!(report["final_loss"].as_f64().unwrap() <= 5.5);
    // A failing command stops the search with its exit code and stderr.
    let failing =
        format!("{py} -c 'import sys; sys.stderr.write(\"no GPU\"); sys.exit(7)' {{model}}");
    let (out, _, _) = digits(
        dir.path(),
        &["--eval-command", &failing, "--threshold", "1"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("exit code 7") && err.contains("no GPU"),
        "{err}"
    );
}

//! Inputs that are not one sample per row, and If specialisation, on the
//! silero-vad patterns of `fixtures/gen/make_stateful_if.py`: a fixed int64
//! scalar `sr` with an If on it, a `state` with its batch on axis 1, and a
//! model exported with a fixed batch of 1. Expected outputs come from
//! onnxruntime.

use super::common::{fixture, run};
use ndarray::ArrayD;
use ndarray_npy::NpzReader;
use std::collections::BTreeMap;
use std::path::Path;

fn read_npz(path: &Path) -> BTreeMap<String, ArrayD<f32>> {
    let mut npz = NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let names = npz.names().unwrap();
    names
        .into_iter()
        .map(|n| {
            let a: ArrayD<f32> = npz.by_name(&n).unwrap();
            (n.trim_end_matches(".npy").to_string(), a)
        })
        .collect()
}

/// Runs `eval` with `extra` arguments and checks every output against
/// onnxruntime's within 1e-4 of the output's largest magnitude.
fn eval_matches(model: &str, data: &str, expected: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npz");
    let mut args = vec![
        "eval",
        model,
        "--data",
        data,
        "--save-outputs",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let got = read_npz(&out);
    let want = read_npz(Path::new(expected));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (name, w) in &want {
        let g = &got[name];
        assert_eq!(g.shape(), w.shape(), "{name}");
        let scale = w.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        let err = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err / scale <= 1e-4, "{name}: max rel diff {}", err / scale);
    }
    stderr
}

const MODEL: &str = "fixtures/models/stateful_if.onnx";

#[test]
fn the_if_on_a_fixed_scalar_takes_the_branch_onnxruntime_takes() {
    for (rate, branch) in [("16k", "then_branch"), ("8k", "else_branch")] {
        let data = fixture(&format!("fixtures/models/stateful_if.{rate}.npz"));
        let expected = fixture(&format!("fixtures/models/stateful_if.{rate}.expected.npz"));
        // Batches of 2 cut `state` along its axis 1 and feed `sr` whole.
        for batch in ["2", "64"] {
            let stderr = eval_matches(&fixture(MODEL), &data, &expected, &["--batch-size", batch]);
            assert!(
                stderr.contains(&format!("specialised to its {branch}")),
                "{stderr}"
            );
        }
    }
}

#[test]
fn inspect_names_the_specialised_if_and_lists_the_taken_branch_layers() {
    let data = fixture("fixtures/models/stateful_if.8k.npz");
    let o = run(&["inspect", &fixture(MODEL), "--json", "--data", &data]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let weights: Vec<&str> = json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["weight"].as_str().unwrap())
        .collect();
    assert_eq!(weights, ["model8k.wa", "model8k.wb", "model8k.wo"]);
    let done = &json["ifs"]["specialised"][0];
    assert_eq!(done["node"], "pick_rate");
    assert_eq!(done["taken"], "else_branch");
    assert_eq!(done["on"][0], "sr");
    // Without data the If stays, and inspect says on what it depends.
    let o = run(&["inspect", &fixture(MODEL)]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("If `pick_rate` left as is") && text.contains("input sr"),
        "{text}"
    );
    assert!(text.contains("weighted layers: 0"), "{text}");
}

#[test]
fn batch_axis_options_are_checked_against_the_model_and_the_data() {
    let data = fixture("fixtures/models/stateful_if.16k.npz");
    let cases = [
        ("nope=1", "the model has no input `nope`"),
        ("state=3", "input `state` is declared [2,batch,4] (rank 3)"),
        (
            "state=0",
            "array `state` has 2 samples along axis 0 but `x` has 5",
        ),
        ("state", "is not NAME=AXIS"),
    ];
    for (option, message) in cases {
        for command in ["eval", "analyze"] {
            let o = run(&[
                command,
                &fixture(MODEL),
                "--data",
                &data,
                "--batch-axis",
                option,
            ]);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{command} --batch-axis {option}");
            assert!(stderr.contains(message), "{command} {option}: {stderr}");
        }
    }
    // The main command reads it too (through --train/--val).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.onnx");
    let o = run(&[
        &fixture(MODEL),
        "-o",
        out.to_str().unwrap(),
        "--train",
        &data,
        "--val",
        &data,
        "--batch-axis",
        "state=0",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("along axis 0"));
    // Saying what the model already says changes nothing.
    eval_matches(
        &fixture(MODEL),
        &data,
        &fixture("fixtures/models/stateful_if.16k.expected.npz"),
        &["--batch-axis", "state=1", "--batch-axis", "sr=fixed"],
    );
}

#[test]
fn analyze_slices_state_along_its_own_axis() {
    let data = fixture("fixtures/models/stateful_if.16k.npz");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("a.json");
    let o = run(&[
        "analyze",
        &fixture(MODEL),
        "--data",
        &data,
        "--cycles",
        "2",
        "--batch-size",
        "2",
        "--json",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let layers = json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert!(layers
        .iter()
        .all(|l| l["statistic"].as_f64().unwrap() > 0.0));
}

#[test]
fn a_model_exported_with_batch_one_runs_one_sample_at_a_time() {
    let stderr = eval_matches(
        &fixture("fixtures/models/fixed_batch1.onnx"),
        &fixture("fixtures/models/fixed_batch1.npz"),
        &fixture("fixtures/models/fixed_batch1.expected.npz"),
        &["--batch-size", "4"],
    );
    assert!(
        stderr.contains("input `x` is declared with a batch of 1"),
        "{stderr}"
    );
}

#[test]
fn an_if_decided_by_batched_data_is_refused_naming_the_node() {
    let model = fixture("fixtures/models/if_on_data.onnx");
    let data = fixture("fixtures/models/if_on_data.npz");
    let o = run(&["eval", &model, "--data", &data]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("If node `sign_switch`: its condition `positive` is not constant (it depends on input x)"),
        "{stderr}"
    );
    let o = run(&["inspect", &model, "--data", &data]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("If `sign_switch` left as is"), "{stdout}");
}

#[test]
fn an_if_on_a_constant_is_inlined_with_clashing_names_renamed() {
    // The taken branch defines `t` and a node `neg` as the main graph does,
    // returns one value twice and an outer value directly.
    let stderr = eval_matches(
        &fixture("fixtures/models/if_name_clash.onnx"),
        &fixture("fixtures/models/if_name_clash.npz"),
        &fixture("fixtures/models/if_name_clash.expected.npz"),
        &["--batch-size", "2"],
    );
    assert!(
        stderr.contains(
            "If `choose` specialised to its then_branch (condition `cond` from constants)"
        ),
        "{stderr}"
    );
}

#[test]
fn train_and_val_must_agree_on_fixed_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.onnx");
    let o = run(&[
        &fixture(MODEL),
        "-o",
        out.to_str().unwrap(),
        "--train",
        &fixture("fixtures/models/stateful_if.16k.npz"),
        "--val",
        &fixture("fixtures/models/stateful_if.8k.npz"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("fixed input `sr` differs between --train"),
        "{stderr}"
    );
    assert!(!out.exists());
}

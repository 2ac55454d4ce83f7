//! The corpus: each case a fault a hostile or careless user can bring, with
//! what the tool must answer. Every case starts from the MLP fixture
//! (`m.onnx`, input `[N, 64]`) and 8 samples of data (`d.npz`) unless it
//! replaces them.

use super::build::{
    f32s, fifo, fixture_model, graph, model_with, npy, npz, npz_inflating, poison_initializer,
    set_input_dim, symlink,
};
use super::{Case, Expect};
use crate::common::root;
use prost::Message;
use std::path::Path;
use wdq_onnx::pb;

const MAIN: &[&str] = &[
    "m.onnx",
    "-o",
    "out.onnx",
    "--data",
    "d.npz",
    "--cycles",
    "1",
    "--val-fraction",
    "0.5",
];

fn data(dir: &Path) {
    let array = npy("<f4", "(8, 64)", &f32s(8 * 64, 0.25), None);
    npz(&dir.join("d.npz"), &[("input.npy", array)]);
}

fn standard(dir: &Path) -> bool {
    std::fs::copy(root().join("fixtures/models/mlp.onnx"), dir.join("m.onnx")).unwrap();
    data(dir);
    true
}

pub(super) fn case(
    name: &str,
    setup: impl Fn(&Path) -> bool + Send + Sync + 'static,
    args: &[&str],
    expect: Expect,
) -> Case {
    Case {
        name: name.to_string(),
        setup: Box::new(setup),
        args: args.iter().map(|s| s.to_string()).collect(),
        expect,
        limited: false,
    }
}

pub(super) fn limited(mut c: Case) -> Case {
    c.limited = true;
    c
}

/// The main command with `extra` arguments after the standard ones.
fn main_with(extra: &[&str]) -> Vec<&'static str> {
    let mut args: Vec<&'static str> = MAIN.to_vec();
    for e in extra {
        args.push(Box::leak(e.to_string().into_boxed_str()));
    }
    args
}

fn option_cases() -> Vec<Case> {
    let refused: &[(&str, &[&str], &'static [&'static str])] = &[
        (
            "time_budget_1e20",
            &["--time-budget", "1e20"],
            &["--time-budget"],
        ),
        (
            "time_budget_negative",
            &["--time-budget", "-1"],
            &["--time-budget"],
        ),
        ("threshold_nan", &["--threshold", "NaN"], &["--threshold"]),
        ("threshold_inf", &["--threshold=inf"], &["--threshold"]),
        (
            "select_threshold_nan",
            &["--select", "threshold:NaN"],
            &["--select"],
        ),
        ("lr_nan", &["--lr", "NaN"], &["--lr", "finite"]),
        ("lr_inf", &["--lr", "inf"], &["--lr", "finite"]),
        (
            "lr_negative",
            &["--lr", "-0.5"],
            &["--lr", "greater than 0"],
        ),
        ("momentum_nan", &["--momentum", "NaN"], &["--momentum"]),
        ("momentum_one", &["--momentum", "1"], &["--momentum"]),
        (
            "weight_decay_negative",
            &["--weight-decay", "-1"],
            &["--weight-decay"],
        ),
        (
            "val_fraction_nan",
            &["--val-fraction", "nan"],
            &["--val-fraction"],
        ),
    ];
    let mut cases: Vec<Case> = refused
        .iter()
        .map(|(name, extra, needles)| {
            case(name, standard, &main_with(extra), Expect::Refuse(needles))
        })
        .collect();
    cases.push(case(
        "threshold_negative_parses",
        standard,
        &main_with(&["--threshold", "-1"]),
        Expect::Succeed,
    ));
    cases.push(case(
        "threshold_negative_equals",
        standard,
        &main_with(&["--threshold=-5"]),
        Expect::Succeed,
    ));
    cases
}

fn path_cases() -> Vec<Case> {
    let with_sub = |dir: &Path| {
        std::fs::create_dir(dir.join("sub")).unwrap();
        standard(dir)
    };
    let with_device = |dir: &Path| {
        // A link, so that an unfixed binary replaces the link, never the
        // device itself.
        symlink("/dev/null", &dir.join("dev.onnx"));
        standard(dir)
    };
    let base = [
        "m.onnx",
        "--data",
        "d.npz",
        "--cycles",
        "1",
        "--val-fraction",
        "0.5",
    ];
    let with = |extra: &[&str]| -> Vec<&'static str> {
        base.iter()
            .chain(extra)
            .map(|s| &*Box::leak(s.to_string().into_boxed_str()))
            .collect()
    };
    vec![
        case(
            "o_is_model",
            standard,
            &with(&["-o", "m.onnx"]),
            Expect::Refuse(&["-o", "m.onnx"]),
        ),
        case(
            "o_is_model_spelled_with_dotdot",
            with_sub,
            &with(&["-o", "./sub/../m.onnx"]),
            Expect::Refuse(&["-o", "input model"]),
        ),
        case(
            "o_is_data",
            standard,
            &with(&["-o", "d.npz"]),
            Expect::Refuse(&["-o", "--data"]),
        ),
        case(
            "report_is_model",
            standard,
            &with(&["-o", "out.onnx", "--report", "m.onnx"]),
            Expect::Refuse(&["--report", "input model"]),
        ),
        case(
            "report_is_output",
            standard,
            &with(&["-o", "out.onnx", "--report", "out.onnx"]),
            Expect::Refuse(&["--report", "-o"]),
        ),
        case(
            "o_is_a_device",
            with_device,
            &with(&["-o", "dev.onnx"]),
            Expect::Refuse(&["-o", "not a regular file"]),
        ),
        case(
            "report_unwritable",
            standard,
            &with(&["-o", "out.onnx", "--report", "no/such/r.json"]),
            Expect::Refuse(&["--report", "not writable"]),
        ),
        case(
            "o_unwritable",
            standard,
            &with(&["-o", "no/such/out.onnx"]),
            Expect::Refuse(&["-o", "not writable"]),
        ),
        case(
            "convert_o_is_model",
            standard,
            &["convert", "m.onnx", "-o", "./m.onnx"],
            Expect::Refuse(&["-o", "input model"]),
        ),
        case(
            "eval_save_outputs_is_data",
            standard,
            &[
                "eval",
                "m.onnx",
                "--data",
                "d.npz",
                "--save-outputs",
                "d.npz",
            ],
            Expect::Refuse(&["--save-outputs"]),
        ),
        case(
            "report_and_model_written",
            standard,
            &with(&["-o", "out.onnx", "--report", "r.json"]),
            Expect::Succeed,
        ),
    ]
}

fn data_cases() -> Vec<Case> {
    let eval = ["eval", "m.onnx", "--data", "x.npz"];
    let eval_npy = ["eval", "m.onnx", "--data", "x.npy"];
    let with_npz = |entries: fn() -> Vec<(&'static str, Vec<u8>)>| {
        move |dir: &Path| {
            standard(dir);
            npz(&dir.join("x.npz"), &entries());
            true
        }
    };
    let with_npy = |bytes: fn() -> Vec<u8>| {
        move |dir: &Path| {
            standard(dir);
            std::fs::write(dir.join("x.npy"), bytes()).unwrap();
            true
        }
    };
    vec![
        limited(case(
            "npy_claims_1e12_samples",
            with_npy(|| npy("<f4", "(1000000000000, 64)", &f32s(64, 1.0), None)),
            &eval_npy,
            Expect::Refuse(&["x.npy", "needs"]),
        )),
        limited(case(
            "npy_header_claims_4_gib",
            with_npy(|| npy("<f4", "(1, 64)", &f32s(64, 1.0), Some(u32::MAX))),
            &eval_npy,
            Expect::Refuse(&["x.npy", "header"]),
        )),
        limited(case(
            "npz_entry_claims_1e12_samples",
            with_npz(|| {
                vec![(
                    "input.npy",
                    npy("<f4", "(1000000000000, 64)", &f32s(64, 1.0), None),
                )]
            }),
            &eval,
            Expect::Refuse(&["x.npz", "`input`"]),
        )),
        limited(case(
            "npz_entry_inflates_past_its_size",
            |dir: &Path| {
                standard(dir);
                npz_inflating(&dir.join("x.npz"));
                true
            },
            &eval,
            Expect::Refuse(&["x.npz", "`input`"]),
        )),
        limited(case(
            "npy_is_a_link_to_dev_zero",
            |dir: &Path| {
                standard(dir);
                symlink("/dev/zero", &dir.join("x.npy"));
                cfg!(unix)
            },
            &eval_npy,
            Expect::Refuse(&["x.npy", "regular file"]),
        )),
        case(
            "npz_is_a_pipe",
            |dir: &Path| standard(dir) && fifo(&dir.join("x.npz")),
            &eval,
            Expect::Refuse(&["x.npz", "regular file"]),
        ),
        case(
            "npz_entry_not_npy",
            with_npz(|| vec![("input.txt", b"hello".to_vec())]),
            &eval,
            Expect::Refuse(&["x.npz", "input.txt"]),
        ),
        case(
            "npz_zero_samples",
            with_npz(|| vec![("input.npy", npy("<f4", "(0, 64)", &[], None))]),
            &eval,
            Expect::Refuse(&["x.npz", "no samples"]),
        ),
        case(
            "npz_float_labels",
            with_npz(|| {
                vec![
                    ("input.npy", npy("<f4", "(2, 64)", &f32s(128, 1.0), None)),
                    ("labels.npy", npy("<f4", "(2,)", &f32s(2, 1.0), None)),
                ]
            }),
            &eval,
            Expect::Refuse(&["x.npz", "labels", "integer"]),
        ),
        case(
            "npz_shape_differs_from_declared",
            with_npz(|| vec![("input.npy", npy("<f4", "(2, 65)", &f32s(130, 1.0), None))]),
            &eval,
            Expect::Refuse(&["x.npz", "`input`", "axis 1"]),
        ),
        case(
            "npz_truncated",
            |dir: &Path| {
                standard(dir);
                let bytes = std::fs::read(dir.join("d.npz")).unwrap();
                std::fs::write(dir.join("x.npz"), &bytes[..bytes.len() / 2]).unwrap();
                true
            },
            &eval,
            Expect::Refuse(&["x.npz"]),
        ),
        case(
            "npz_nan_in_data",
            with_npz(|| {
                vec![(
                    "input.npy",
                    npy("<f4", "(8, 64)", &f32s(512, f32::NAN), None),
                )]
            }),
            &[
                "m.onnx",
                "-o",
                "out.onnx",
                "--data",
                "x.npz",
                "--cycles",
                "1",
                "--val-fraction",
                "0.5",
            ],
            Expect::Refuse(&["x.npz", "`input`", "NaN"]),
        ),
    ]
}

fn model_cases() -> Vec<Case> {
    let inspect = ["inspect", "x.onnx"];
    let eval = ["eval", "x.onnx", "--data", "d.npz"];
    fn with_model(change: fn(&mut pb::ModelProto)) -> impl Fn(&Path) -> bool + Send + Sync {
        move |dir: &Path| {
            standard(dir);
            model_with(&dir.join("x.onnx"), "mlp.onnx", change);
            true
        }
    }
    let external = |dir: &Path| {
        for f in ["external_data.onnx", "external_data.onnx.data"] {
            std::fs::copy(root().join("fixtures/models").join(f), dir.join(f)).unwrap();
        }
        true
    };
    vec![
        case(
            "model_empty_file",
            |dir: &Path| {
                std::fs::write(dir.join("x.onnx"), b"").unwrap();
                true
            },
            &inspect,
            Expect::Refuse(&["x.onnx", "empty"]),
        ),
        limited(case(
            "model_is_a_link_to_dev_zero",
            |dir: &Path| {
                symlink("/dev/zero", &dir.join("x.onnx"));
                cfg!(unix)
            },
            &inspect,
            Expect::Refuse(&["x.onnx", "regular file"]),
        )),
        case(
            "model_is_a_pipe",
            |dir: &Path| fifo(&dir.join("x.onnx")),
            &inspect,
            Expect::Refuse(&["x.onnx", "regular file"]),
        ),
        case(
            "external_data_model_named_without_folder",
            external,
            &["inspect", "external_data.onnx"],
            Expect::Succeed,
        ),
        case(
            "external_data_is_a_pipe",
            move |dir: &Path| {
                external(dir);
                std::fs::remove_file(dir.join("external_data.onnx.data")).unwrap();
                fifo(&dir.join("external_data.onnx.data"))
            },
            &["inspect", "external_data.onnx"],
            Expect::Refuse(&["external_data.onnx.data", "regular file"]),
        ),
        limited(case(
            "external_unread_tensor_of_3_gib",
            |dir: &Path| {
                standard(dir);
                std::fs::File::create(dir.join("big.bin"))
                    .unwrap()
                    .set_len(3 << 30)
                    .unwrap();
                model_with(&dir.join("x.onnx"), "mlp.onnx", |m| {
                    let location = pb::StringStringEntryProto {
                        key: Some("location".into()),
                        value: Some("big.bin".into()),
                    };
                    graph(m).initializer.push(pb::TensorProto {
                        name: Some("unused".into()),
                        dims: vec![3 << 28],
                        data_type: Some(1),
                        data_location: Some(pb::tensor_proto::DataLocation::External as i32),
                        external_data: vec![location],
                        ..Default::default()
                    });
                });
                true
            },
            &eval,
            Expect::Succeed,
        )),
        case(
            "opset_0",
            with_model(|m| m.opset_import[0].version = Some(0)),
            &inspect,
            Expect::Refuse(&["x.onnx", "opset"]),
        ),
        case(
            "opset_negative",
            with_model(|m| m.opset_import[0].version = Some(-1)),
            &inspect,
            Expect::Refuse(&["x.onnx", "opset"]),
        ),
        case(
            "opset_2_pow_62",
            with_model(|m| m.opset_import[0].version = Some(1 << 62)),
            &inspect,
            Expect::Refuse(&["x.onnx", "opset"]),
        ),
        case(
            "declared_dim_0_inspected",
            with_model(|m| set_input_dim(m, 1, 0)),
            &inspect,
            Expect::Succeed,
        ),
        case(
            "declared_dim_0_given_data",
            with_model(|m| set_input_dim(m, 1, 0)),
            &[
                "x.onnx",
                "-o",
                "out.onnx",
                "--data",
                "d.npz",
                "--cycles",
                "1",
                "--val-fraction",
                "0.5",
            ],
            Expect::Refuse(&["d.npz", "`input`", "axis 1"]),
        ),
        case(
            "declared_dim_1e12",
            with_model(|m| set_input_dim(m, 1, 1_000_000_000_000)),
            &inspect,
            Expect::Refuse(&["x.onnx", "`input`"]),
        ),
        case(
            "duplicate_node_names",
            with_model(|m| {
                let g = graph(m);
                let name = g.node[0].name.clone();
                g.node[2].name = name;
            }),
            &inspect,
            Expect::Refuse(&["x.onnx", "`fc1`", "twice"]),
        ),
        case(
            "gemm_with_4_inputs",
            with_model(|m| graph(m).node[0].input.push("fc1.bias".into())),
            &inspect,
            Expect::Refuse(&["x.onnx", "`fc1`", "inputs"]),
        ),
        case(
            "relu_with_2_inputs",
            with_model(|m| graph(m).node[1].input.push("fc1.bias".into())),
            &inspect,
            Expect::Refuse(&["x.onnx", "Relu", "inputs"]),
        ),
        case(
            "nan_weights",
            with_model(|m| poison_initializer(m, "fc2.weight", f32::NAN)),
            &[
                "x.onnx",
                "-o",
                "out.onnx",
                "--data",
                "d.npz",
                "--cycles",
                "1",
                "--val-fraction",
                "0.5",
            ],
            Expect::Refuse(&["x.onnx", "fc2.weight", "NaN"]),
        ),
        case(
            "node_name_with_escape_sequences",
            with_model(|m| graph(m).node[0].name = Some("fc1\u{1b}]0;pwned\u{7}\u{1b}[2J".into())),
            &inspect,
            Expect::Succeed,
        ),
    ]
}

/// Seeded byte flips of the fixture model, run through `inspect`.
fn mutant_cases() -> Vec<Case> {
    let original = fixture_model("mlp.onnx").encode_to_vec();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..24)
        .map(|i| {
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] ^= 1 << (next() % 8);
            }
            // A flip may leave a valid model: either answer is fine.
            case(
                &format!("byte_flip_{i:02}"),
                move |dir: &Path| {
                    std::fs::write(dir.join("x.onnx"), &bytes).unwrap();
                    true
                },
                &["inspect", "x.onnx"],
                Expect::Either(&["x.onnx"]),
            )
        })
        .collect()
}

/// Every case of the corpus.
pub fn all() -> Vec<Case> {
    let mut cases = option_cases();
    cases.extend(path_cases());
    cases.extend(data_cases());
    cases.extend(model_cases());
    cases.extend(mutant_cases());
    cases
}

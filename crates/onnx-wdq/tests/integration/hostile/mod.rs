//! The hostile-input corpus: every case (a bad file, option or path, built
//! at test time by `cases.rs`) runs through the binary in its own folder and
//! its outcome is classified. Only two outcomes pass: a clean refusal (exit
//! 1 or 2, a message naming what is wrong) and a success with valid output.
//! Anything else -- a panic, a signal (an allocation abort), a hang, an
//! input changed, a partial or leftover output, a bad input accepted, a
//! good one refused, an unclear message, raw control bytes printed -- fails
//! the test, which prints the count per class.
//!
//! The allocation cases run under `prlimit --as` (1 GiB) when it exists.
//! `ONNX_WDQ_HOSTILE_BIN=path` runs the corpus against another binary (to
//! count the outcomes of an older build).

mod build;
mod cases;
mod model_faults;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a case must do.
pub enum Expect {
    /// Exit 1 or 2 with every needle in the message.
    Refuse(&'static [&'static str]),
    /// Exit 0 (or 3: the threshold unmet), every `.onnx` written valid.
    Succeed,
    /// Either of the above (a random mutant may still be a valid model).
    Either(&'static [&'static str]),
}

/// One hostile input: files made in an empty folder, then the arguments
/// run there.
pub struct Case {
    pub name: String,
    /// Makes the case's files; false skips the case (a tool is missing).
    pub setup: Box<dyn Fn(&Path) -> bool + Send + Sync>,
    pub args: Vec<String>,
    pub expect: Expect,
    /// Run under the address-space limit.
    pub limited: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    CleanError,
    Success,
    Panic,
    Signal,
    Hang,
    Clobber,
    Partial,
    AcceptedBad,
    FalseReject,
    Unclear,
    ControlBytes,
    Skipped,
}

/// A message line longer than this buries its point (a protobuf path of
/// hundreds of steps once came before "recursion limit reached").
const MESSAGE_LINE_LIMIT: usize = 400;
const TIMEOUT: Duration = Duration::from_secs(30);
const MEMORY_LIMIT: &str = "--as=1073741824";

fn binary() -> PathBuf {
    std::env::var_os("ONNX_WDQ_HOSTILE_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_onnx-wdq")),
        PathBuf::from,
    )
}

fn has_prlimit() -> bool {
    Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Each file under `dir` (links not followed): its kind and, for a regular
/// file up to 64 MiB, its contents; larger ones by length.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let t = meta.file_type();
            let what = if t.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if t.is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).unwrap())
            } else if t.is_file() && meta.len() <= 64 << 20 {
                format!("{:?}", std::fs::read(&path).unwrap())
            } else {
                format!("{:?} {}", t, meta.len())
            };
            out.insert(path, what);
        }
    }
    out
}

fn has_control_bytes(text: &[u8]) -> bool {
    text.iter()
        .any(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
}

fn run_case(case: &Case, root: &Path, prlimit: bool) -> (Outcome, String) {
    let dir = root.join(&case.name);
    std::fs::create_dir(&dir).unwrap();
    if !(case.setup)(&dir) {
        return (Outcome::Skipped, "setup unavailable".into());
    }
    let before = snapshot(&dir);
    let logs = root.join(format!("{}.log", case.name));
    std::fs::create_dir(&logs).unwrap();
    let mut command = if case.limited && prlimit {
        let mut c = Command::new("prlimit");
        c.arg(MEMORY_LIMIT).arg("--").arg(binary());
        c
    } else {
        Command::new(binary())
    };
    let mut child = command
        .args(&case.args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(logs.join("out")).unwrap())
        .stderr(std::fs::File::create(logs.join("err")).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = std::fs::read(logs.join("out")).unwrap();
    let stderr = std::fs::read(logs.join("err")).unwrap();
    let message = String::from_utf8_lossy(&stderr).into_owned();
    let after = snapshot(&dir);
    let changed = before.iter().any(|(p, v)| after.get(p) != Some(v));
    let created: Vec<&PathBuf> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    let leftover = created
        .iter()
        .any(|p| p.to_string_lossy().ends_with(".tmp"));
    let outcome = match status.map(|s| s.code()) {
        None => Outcome::Hang,
        Some(None) => Outcome::Signal,
        Some(Some(101)) => Outcome::Panic,
        _ if message.contains("panicked at") => Outcome::Panic,
        _ if changed => Outcome::Clobber,
        _ if leftover => Outcome::Partial,
        _ if has_control_bytes(&stdout) || has_control_bytes(&stderr) => Outcome::ControlBytes,
        Some(Some(0 | 3)) => match case.expect {
            Expect::Refuse(_) => Outcome::AcceptedBad,
            Expect::Succeed | Expect::Either(_) => {
                let invalid = created.iter().any(|p| {
                    p.extension().is_some_and(|e| e == "onnx") && wdq_onnx::load_model(p).is_err()
                });
                if invalid {
                    Outcome::Partial
                } else {
                    Outcome::Success
                }
            }
        },
        Some(Some(_)) if !created.is_empty() => Outcome::Partial,
        Some(Some(1 | 2)) => match case.expect {
            Expect::Succeed => Outcome::FalseReject,
            Expect::Refuse(needles) | Expect::Either(needles) => {
                let lower = message.to_lowercase();
                let short = message.lines().all(|l| l.len() <= MESSAGE_LINE_LIMIT);
                if short && needles.iter().all(|n| lower.contains(&n.to_lowercase())) {
                    Outcome::CleanError
                } else {
                    Outcome::Unclear
                }
            }
        },
        Some(Some(_)) => Outcome::Unclear,
    };
    let last = message.lines().last().unwrap_or_default().to_string();
    (outcome, last)
}

#[test]
fn hostile_corpus_is_refused_cleanly_or_handled() {
    let mut cases = cases::all();
    cases.extend(model_faults::all());
    let root = tempfile::tempdir().unwrap();
    let prlimit = has_prlimit();
    if !prlimit {
        eprintln!("prlimit unavailable: the allocation cases run without a memory limit");
    }
    let results = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(case) = cases.get(i) else { break };
                let (outcome, message) = run_case(case, root.path(), prlimit);
                results
                    .lock()
                    .unwrap()
                    .push((case.name.clone(), outcome, message));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort();
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    for (_, outcome, _) in &results {
        *counts.entry(*outcome).or_default() += 1;
    }
    eprintln!("{} cases: {counts:?}", results.len());
    let bad: Vec<String> = results
        .iter()
        .filter(|(_, o, _)| !matches!(o, Outcome::CleanError | Outcome::Success | Outcome::Skipped))
        .map(|(name, o, m)| format!("  {name}: {o:?}: {m}"))
        .collect();
    for line in &bad {
        eprintln!("{line}");
    }
    assert!(bad.is_empty(), "{} cases misbehaved", bad.len());
}

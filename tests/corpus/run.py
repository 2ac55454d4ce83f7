#!/usr/bin/env python3
"""The real-model corpus, end to end: every model that
fixtures/gen/materialize_corpus.py put in CACHE_DIR goes through the CLI, and
each step is checked against an independent reference.

    python3 tests/corpus/run.py BIN CACHE_DIR [--only NAME ...] [--table FILE]

Checks, per model (a later check is skipped when its prerequisite failed):

- inspect: `inspect --json` (with `--data` for a model with fixed inputs,
  which decide its If nodes) lists exactly the layers the manifest counts
  (the `onnx` package's independent count);
- eval: `eval --save-outputs` equals onnxruntime within the float tolerance
  below (identical argmax for classifiers);
- convert13/18/21: `convert --opset N` then onnxruntime gives the original
  outputs (same tolerance);
- analyze: `analyze --cycles 1` gives every layer a non-zero statistic;
- main: the main command writes a model that passes onnx.checker (full) and
  runs in onnxruntime; for classifiers the report's figure equals
  onnxruntime's agreement on the written model, and the tool's own
  prediction on the written model (`eval --save-outputs`) equals
  onnxruntime's (optimizations off) sample for sample. The agreement with
  onnxruntime at its default optimization level (which fuses the QDQ pairs
  into integer kernels with their own rounding) is printed, not checked.

Float tolerance: every element must satisfy |got - want| <= ATOL + RTOL |want|
with RTOL = 1e-4 and ATOL = 1e-4 * max(largest |want| of the output, 1e-3).
A relative difference alone is meaningless near zero: onnxruntime's float32
kernels (MLAS's approximated Sigmoid, Tanh, Exp) are accurate to ~1e-7
absolute, not relative, so a saturated sigmoid (paddle_det on noise gives
probabilities of 1e-7) differs from the exact value by 100%+ while both are
right to float32 precision (the corpus now feeds paddle_det synthetic text
pages, on which it fires; the tolerance stays for such outputs). The
absolute term follows the output's scale, but never goes below 1e-7 (the 1e-3 floor): an output whose every value is
below 1e-3 is compared at the float32 noise level of a [0, 1] output.

tests/corpus/expected.txt lists the checks known to pass ("model check" per
line). The run fails when one of them fails (a regression) and prints the
checks that now pass but are not listed, so the list only grows. It prints a
table of every model and step, and the closing count line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(3)

RTOL = 1e-4
ATOL_FRACTION = 1e-4
ATOL_FLOOR_SCALE = 1e-3
STEPS = ["inspect", "eval", "convert13", "convert18", "convert21", "analyze", "main"]
TIMEOUT = 900
HERE = Path(__file__).resolve().parent


def run(cmd: list[str], timeout: int = TIMEOUT) -> tuple[bool, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s"
    if p.returncode != 0:
        lines = (p.stderr or p.stdout).strip().splitlines()
        return False, f"exit {p.returncode}: {lines[-1] if lines else ''}"[:300]
    return True, p.stdout


def ort_outputs(model: Path, feeds: dict, optimized: bool = False) -> dict:
    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimized
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    known = {i.name for i in session.get_inputs()}
    return dict(zip(names, session.run(names, {k: v for k, v in feeds.items() if k in known})))


def compare(got: dict, want: dict, classifier: bool) -> str | None:
    for name, w in want.items():
        if name not in got:
            return f"output {name} missing"
        g = np.asarray(got[name])
        if g.shape != w.shape:
            return f"{name}: shape {g.shape} vs {w.shape}"
        if w.dtype.kind == "f":
            w64 = w.astype(np.float64)
            atol = ATOL_FRACTION * max(float(np.abs(w64).max()), ATOL_FLOOR_SCALE)
            diff = np.abs(g.astype(np.float64) - w64)
            excess = float((diff / (atol + RTOL * np.abs(w64))).max())
            if not excess <= 1.0:
                at = int(np.nan_to_num(diff, nan=np.inf).argmax())
                return (f"{name}: |diff| {diff.flat[at]:.2e} at want {w64.flat[at]:.3e} is "
                        f"{excess:.2f}x the tolerance (atol {atol:.1e}, rtol {RTOL:.0e})")
        elif not np.array_equal(g, w):
            return f"{name}: values differ"
    if classifier:
        first = next(iter(want))
        a = np.asarray(got[first]).reshape(want[first].shape[0], -1).argmax(1)
        b = want[first].reshape(want[first].shape[0], -1).argmax(1)
        if not np.array_equal(a, b):
            return f"argmax differs on {int((a != b).sum())} rows"
    return None


def load_npz(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


class Model:
    def __init__(self, bin_: str, cache: Path, entry: dict, work: Path):
        self.bin, self.cache, self.e, self.work = bin_, cache, entry, work
        self.name = entry["name"]
        self.path = cache / f"{self.name}.onnx"
        self.inputs = cache / f"{self.name}.inputs.npz"
        self.feeds = load_npz(self.inputs)
        self.expected = load_npz(cache / f"{self.name}.expected.npz")
        self.classifier = entry["kind"] == "classifier"
        self.agreement: tuple[int, int, int] | None = None

    def inspect(self) -> str | None:
        # A model with fixed inputs is inspected with its data: the fixed
        # inputs decide its If nodes (the manifest counts the taken branch).
        data = ["--data", str(self.inputs)] if self.e.get("fixed_inputs") else []
        ok, out = run([self.bin, "inspect", "--json", str(self.path)] + data)
        if not ok:
            return out
        layers = len(json.loads(out)["layers"])
        return None if layers == self.e["layers"] else f"{layers} layers, onnx counts {self.e['layers']}"

    def eval(self, model: Path | None = None, expected: dict | None = None) -> str | None:
        out = self.work / f"{self.name}.out.npz"
        ok, msg = run([self.bin, "eval", str(model or self.path), "--data", str(self.inputs),
                       "--save-outputs", str(out)])
        if not ok:
            return msg
        return compare(load_npz(out), expected or self.expected, self.classifier)

    def convert(self, opset: int) -> str | None:
        out = self.work / f"{self.name}.op{opset}.onnx"
        ok, msg = run([self.bin, "convert", str(self.path), "--opset", str(opset), "-o", str(out)])
        if not ok:
            return msg
        try:
            return compare(ort_outputs(out, self.feeds), self.expected, self.classifier)
        except Exception as e:  # onnxruntime refusing the file is the finding
            return f"onnxruntime: {str(e).splitlines()[0][:200]}"

    def analyze(self) -> str | None:
        report = self.work / f"{self.name}.analyze.json"
        ok, msg = run([self.bin, "analyze", str(self.path), "--data", str(self.inputs),
                       "--cycles", "1", "--batch-size", "4", "--json", str(report)])
        if not ok:
            return msg
        layers = json.loads(report.read_text())["layers"]
        zero = [l.get("node") for l in layers if not l.get("statistic")]
        return f"zero statistic for {len(zero)} of {len(layers)} layers" if zero else None

    def main(self) -> str | None:
        out = self.work / f"{self.name}.wdq.onnx"
        report = self.work / f"{self.name}.report.json"
        ok, msg = run([self.bin, str(self.path), "-o", str(out), "--train", str(self.inputs),
                       "--val", str(self.inputs), "--cycles", "1", "--batch-size", "4",
                       "--report", str(report)])
        if not ok and not msg.startswith("exit 3"):
            return msg
        try:
            onnx.checker.check_model(onnx.load(out), full_check=True)
            got = ort_outputs(out, self.feeds)
        except Exception as e:
            return f"written model: {str(e).splitlines()[0][:200]}"
        if self.classifier:
            first = next(iter(self.expected))
            a = got[first].reshape(len(got[first]), -1).argmax(1)
            b = self.expected[first].reshape(len(a), -1).argmax(1)
            agreement = 100.0 * float((a == b).mean())
            figure = json.loads(report.read_text()).get("final_accuracy")
            if figure is not None and abs(figure - agreement) > 1e-6:
                return f"report {figure:.4f} vs onnxruntime {agreement:.4f}"
            saved = self.work / f"{self.name}.wdq.out.npz"
            ok, msg = run([self.bin, "eval", str(out), "--data", str(self.inputs),
                           "--save-outputs", str(saved)])
            if not ok:
                return f"eval of the written model: {msg}"
            ours = load_npz(saved)[first].reshape(len(a), -1).argmax(1)
            optimized = ort_outputs(out, self.feeds, optimized=True)[first]
            same_off = int((ours == a).sum())
            same_default = int((ours == optimized.reshape(len(a), -1).argmax(1)).sum())
            self.agreement = (same_off, same_default, len(a))
            if same_off != len(a):
                return (f"tool and onnxruntime predict differently on {len(a) - same_off} of "
                        f"{len(a)} samples of the written model")
        return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("cache", type=Path)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--table", type=Path)
    args = ap.parse_args()
    manifest = json.loads((args.cache / "manifest.json").read_text())
    expected = set()
    expected_file = HERE / "expected.txt"
    if expected_file.exists():
        expected = {tuple(line.split()) for line in expected_file.read_text().splitlines()
                    if line.strip() and not line.startswith("#")}
    results: dict[tuple[str, str], str] = {}
    rows = []
    agreements: list = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for entry in manifest:
            if args.only and entry["name"] not in args.only:
                continue
            m = Model(args.bin, args.cache, entry, work)
            row = {"model": m.name, "source": entry["source"], "layers": entry["layers"]}
            started = time.monotonic()
            checks = [("inspect", m.inspect), ("eval", m.eval),
                      ("convert13", lambda: m.convert(13)), ("convert18", lambda: m.convert(18)),
                      ("convert21", lambda: m.convert(21)), ("analyze", m.analyze), ("main", m.main)]
            for step, check in checks:
                if step in ("analyze", "main") and results.get((m.name, "eval")) != "pass":
                    results[(m.name, step)] = "skipped (eval failed)"
                    continue
                step_start = time.monotonic()
                failure = check()
                results[(m.name, step)] = "pass" if failure is None else failure
                row[step] = "pass" if failure is None else "FAIL"
                row[step + "_s"] = round(time.monotonic() - step_start, 1)
            row["seconds"] = round(time.monotonic() - started, 1)
            if m.agreement:
                agreements.append((m.name, *m.agreement))
            rows.append(row)
            print(f"{m.name}: " + ", ".join(f"{s} {results[(m.name, s)]}" for s in STEPS),
                  flush=True)

    header = ["model", "layers"] + STEPS + ["seconds"]
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for row in rows:
        lines.append(" | ".join(str(row.get(h, "skip")) for h in header))
    table = "\n".join(lines)
    print("\n" + table)
    if args.table:
        args.table.write_text(table + "\n")

    if agreements:
        print("\nonnxruntime agreement with the tool's predictions on the written model "
              "(samples; optimizations off | default):")
        for name, off, default, n in agreements:
            print(f"  {name}: {off}/{n} | {default}/{n}")
        total = [sum(a[i] for a in agreements) for i in (1, 2, 3)]
        print(f"  all: {total[0]}/{total[2]} | {total[1]}/{total[2]}")

    passed = sum(1 for v in results.values() if v == "pass")
    failed = len(results) - passed
    regressions = sorted(k for k in expected if k in results and results[k] != "pass")
    new = sorted(k for k, v in results.items() if v == "pass" and k not in expected)
    for name, step in regressions:
        print(f"REGRESSION: {name} {step}: {results[(name, step)]}")
    if new:
        print("now passing, not yet in tests/corpus/expected.txt:")
        for name, step in new:
            print(f"  {name} {step}")
    print(f"corpus: {passed} checks pass, {failed} do not ({len(regressions)} regressions)")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""onnxruntime check of models lowered by wdq-lower (not part of cargo test).

First write the models and wdq-exec's results on them:

    WDQ_LOWER_OUT=/tmp/wdq-lower-ort cargo test -p wdq-lower --test lower \
        -- --ignored write_models_for_onnxruntime

then run, from the repository root:

    python3 crates/wdq-lower/tests/ort_check.py /tmp/wdq-lower-ort .

For every model in the folder: onnx.checker.check_model(full_check=True), then
onnxruntime (CPU, one thread) with graph optimizations off and with all on.

- `digits_<variant>.onnx`: on fixtures/digits/val.npz, argmax compared with
  `<stem>.exec_argmax.npy` (wdq-exec on the same lowered model), top-1
  against the labels, largest logit difference against `<stem>.exec_logits.npy`.
- `model__<name>__<variant>.onnx`: on fixtures/models/<name>.inputs.npz, the
  first output compared with `<stem>.exec_output.npy`.

Exits non-zero when a model fails the checker, a digits prediction differs,
or an output differs by more than 1e-4 relative (optimizations off).
"""

import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort


def session(path, optimize):
    options = ort.SessionOptions()
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def describe(path, model):
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    return f"{path.stem}: opset {opset} ir {model.ir_version} {path.stat().st_size} B"


def check_digits(path, folder, root):
    data = np.load(root / "fixtures/digits/val.npz")
    x, labels = data["input"], data["labels"]
    exec_argmax = np.load(folder / f"{path.stem}.exec_argmax.npy")
    exec_logits = np.load(folder / f"{path.stem}.exec_logits.npy")
    ok = True
    for optimize in (False, True):
        logits = session(path, optimize).run(None, {"input": x})[0]
        pred = logits.argmax(axis=1)
        differ = int((pred != exec_argmax).sum())
        print(
            f"  optimized={optimize}: top-1 {float((pred == labels).mean()):.4f}, argmax differs "
            f"from wdq-exec on {differ}/{len(x)}, max |logit diff| {float(np.abs(logits - exec_logits).max()):.3g}"
        )
        ok &= differ == 0
    return ok


def check_model(path, folder, root):
    name = path.stem.split("__")[1]
    feeds = dict(np.load(root / f"fixtures/models/{name}.inputs.npz"))
    expected = np.load(folder / f"{path.stem}.exec_output.npy")
    ok = True
    for optimize in (False, True):
        out = session(path, optimize).run(None, feeds)[0]
        rel = float(np.abs(out - expected).max() / max(np.abs(expected).max(), 1e-30))
        print(f"  optimized={optimize}: max |output diff| / max |output| = {rel:.3g}")
        ok &= optimize or rel <= 1e-4
    return ok


def main():
    folder, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    models = sorted(folder.glob("*.onnx"))
    if not models:
        print(f"no .onnx files in {folder}")
        return 1
    ok = True
    for path in models:
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        print(describe(path, model) + ": checker ok")
        if path.stem.startswith("digits_"):
            ok &= check_digits(path, folder, root)
        else:
            ok &= check_model(path, folder, root)
    print("all agree" if ok else "DISAGREEMENT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

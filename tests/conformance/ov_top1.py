"""OpenVINO as a second consumer of onnx-wdq's output (not named openvino.py:
that name would shadow the openvino package it imports).

Runs an ONNX model in OpenVINO's runtime (CPU) and in onnxruntime on the same
rows and checks that top-1 agrees on every row; prints both accuracies when
the data has labels, and the row count and times.

Usage: python ov_top1.py MODEL.onnx DATA.npz [--rows N] [--max-differ K]
Exit 0 when top-1 differs on at most K rows (default 0), 1 otherwise.
OpenVINO's CPU plugin runs Q/DQ graphs in its own integer arithmetic
(low-precision transformations), so its logits are not onnxruntime's: on
the digits fixture's 4-bit openvino output they differ by up to 0.33.
"""

import argparse
import sys
import time

import numpy as np
import onnxruntime as ort
import openvino as ov


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--rows", type=int, default=0, help="first N rows (0: all)")
    ap.add_argument("--max-differ", type=int, default=0, help="rows allowed to differ")
    args = ap.parse_args()
    data = np.load(args.data)
    x = data["input"].astype(np.float32)
    labels = data["labels"] if "labels" in data.files else None
    if args.rows:
        x = x[: args.rows]
        labels = labels[: args.rows] if labels is not None else None

    start = time.perf_counter()
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    ort_out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    ort_seconds = time.perf_counter() - start

    start = time.perf_counter()
    core = ov.Core()
    compiled = core.compile_model(core.read_model(args.model), "CPU")
    ov_out = np.asarray(compiled({0: x})[compiled.output(0)])
    ov_seconds = time.perf_counter() - start

    ort_top1 = ort_out.argmax(axis=1)
    ov_top1 = ov_out.argmax(axis=1)
    differ = int((ort_top1 != ov_top1).sum())
    line = f"{args.model}: {len(x)} rows, top-1 differs on {differ}"
    if labels is not None:
        line += (
            f"; accuracy onnxruntime {100 * (ort_top1 == labels).mean():.2f}"
            f" openvino {100 * (ov_top1 == labels).mean():.2f}"
        )
    line += (
        f"; max |ov - ort| {np.abs(ov_out - ort_out).max():.3g}"
        f"; seconds onnxruntime {ort_seconds:.2f} openvino {ov_seconds:.2f}"
        f" (openvino {ov.get_version()})"
    )
    print(line)
    return 0 if differ <= args.max_differ else 1


if __name__ == "__main__":
    sys.exit(main())

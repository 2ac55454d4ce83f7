#!/usr/bin/env python3
"""wdq-exec inference time against onnxruntime on the same models, batch and
thread count, measured in the same run. Prints a table with the ratio
wdq-exec / onnxruntime (below 1.0: wdq-exec is faster).

usage: python3 benches/infer_vs_ort.py [--batch 32] [--threads 1 2] [--iters 20]
                                       [--models PATH ...]
Needs: cargo, and onnxruntime + numpy (tests/conformance/requirements.txt).
"""
import argparse
import json
import os
import pathlib
import subprocess
import time

import numpy as np
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = [
    "fixtures/models/mlp.onnx",
    "fixtures/models/lenet.onnx",
    "fixtures/models/resnet_bn.onnx",
    "fixtures/models/mobilenet_se.onnx",
    "fixtures/models/torch_style.onnx",
    "fixtures/digits/digits_cnn.onnx",
]


# glibc malloc settings for --keep-heap: never give freed memory back to the
# OS and serve buffers up to 32 MiB (glibc's maximum) from the heap rather than
# fresh mmaps.
KEEP_HEAP = "glibc.malloc.trim_threshold=4000000000:glibc.malloc.mmap_threshold=33554432"


def target_dir():
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def ort_ms(path, batch, threads, iters):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else batch for d in i.shape]
        feeds[i.name] = rng.random(shape, dtype=np.float32)
    sess.run(None, feeds)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0]


def fmt(median, best):
    return f"{median:.3f} ({best:.3f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--keep-heap", action="store_true",
                    help="run the wdq binary with glibc malloc told to keep freed memory "
                         "(no trimming, no per-buffer mmap): shows the page-fault share")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.keep_heap:
        env["GLIBC_TUNABLES"] = KEEP_HEAP
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "wdq-bench"], cwd=ROOT, check=True)
    exe = target_dir() / "release" / "wdq-bench-infer"
    print(f"onnxruntime {ort.__version__}, batch {args.batch}, {args.iters} iterations, "
          f"load average {os.getloadavg()[0]:.2f}"
          + (", wdq with --keep-heap" if args.keep_heap else ""))
    print("medians (min in brackets), ms; ratio = wdq-exec / onnxruntime of the medians, "
          "min ratio = the same of the minimums (less sensitive to other load)")
    print(f"{'model':<14} {'thr':>3} {'batch':>5} {'wdq-exec':>18} {'onnxruntime':>18} {'ratio':>6} {'min ratio':>9}")
    for rel in args.models:
        path = ROOT / rel
        name = path.stem
        for threads in args.threads:
            out = subprocess.run([str(exe), str(path), str(args.batch), str(threads), str(args.iters)],
                                 check=True, capture_output=True, text=True, env=env).stdout
            ours = json.loads(out)
            theirs, theirs_min = ort_ms(path, args.batch, threads, args.iters)
            print(f"{name:<14} {threads:>3} {args.batch:>5} {fmt(ours['median_ms'], ours['min_ms']):>18} "
                  f"{fmt(theirs, theirs_min):>18} {ours['median_ms'] / theirs:>6.2f} "
                  f"{ours['min_ms'] / theirs_min:>9.2f}", flush=True)


if __name__ == "__main__":
    main()

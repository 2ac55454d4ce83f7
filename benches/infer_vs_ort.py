#!/usr/bin/env python3
"""wdq-exec inference time against onnxruntime on the same models, batch and
thread count, measured in the same run. Prints a table with the ratio
wdq-exec / onnxruntime (below 1.0: wdq-exec is faster).

usage: python3 benches/infer_vs_ort.py [--batch 32] [--threads 1 2] [--iters 20]
Needs: cargo, and onnxruntime + numpy (tests/conformance/requirements.txt).
"""
import argparse
import json
import pathlib
import subprocess
import time

import numpy as np
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ["mlp", "lenet", "resnet_bn", "mobilenet_se", "torch_style"]


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
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "wdq-bench"], cwd=ROOT, check=True)
    exe = ROOT / "target" / "release" / "wdq-bench-infer"
    print(f"{'model':<14} {'thr':>3} {'batch':>5} {'wdq-exec ms':>12} {'ort ms':>9} {'ratio':>6}")
    for name in MODELS:
        path = ROOT / "fixtures" / "models" / f"{name}.onnx"
        for threads in args.threads:
            out = subprocess.run([str(exe), str(path), str(args.batch), str(threads), str(args.iters)],
                                 check=True, capture_output=True, text=True).stdout
            ours = json.loads(out)["median_ms"]
            theirs = ort_ms(path, args.batch, threads, args.iters)
            print(f"{name:<14} {threads:>3} {args.batch:>5} {ours:>12.3f} {theirs:>9.3f} {ours / theirs:>6.2f}")


if __name__ == "__main__":
    main()

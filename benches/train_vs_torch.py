#!/usr/bin/env python3
"""One training step in wdq-exec against the same step in PyTorch, same
models, batch and thread count, measured in the same run. Prints a table
with both medians and the ratio wdq-exec / torch (below 1.0: wdq-exec is
faster).

wdq side: target/release/wdq-bench-train (the step model of
wdq_autodiff::training_step, default StepOptions: cross-entropy, plain SGD;
one Plan::run = forward + loss + backward + update).
torch side: the same ONNX file interpreted in float32 PyTorch
(benches/torch_graph.py: BatchNormalization frozen, as eval-mode BN; the
weights and biases of Conv/Gemm/MatMul trainable, as in wdq), loss =
F.cross_entropy, torch.optim.SGD(lr=1e-3); one timed iteration is
zero_grad + forward + loss + backward + optimizer.step.
Both warm up once and report the median over --iters iterations.

usage: python3 benches/train_vs_torch.py [--batch 32] [--threads 1 2] [--iters 20]
                                         [--models PATH ...]
Needs: cargo, numpy, onnx, torch.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
from torch_graph import TorchGraph  # noqa: E402

MODELS = [
    "fixtures/models/lenet.onnx",
    "fixtures/models/mobilenet_se.onnx",
    "fixtures/models/resnet_bn.onnx",
    "fixtures/digits/digits_cnn.onnx",
]


# glibc malloc settings for --keep-heap: never give freed memory back to the
# OS and serve buffers up to 32 MiB (glibc's maximum) from the heap rather than
# fresh mmaps.
KEEP_HEAP = "glibc.malloc.trim_threshold=4000000000:glibc.malloc.mmap_threshold=33554432"


def target_dir():
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def torch_ms(path, batch, threads, iters):
    torch.set_num_threads(threads)
    model = onnx.load(str(path))
    tg = TorchGraph(model)
    rng = np.random.default_rng(0)
    feeds = {}
    for i in model.graph.input:
        if i.name not in tg.inputs:
            continue
        shape = [d.dim_value if d.HasField("dim_value") else batch
                 for d in i.type.tensor_type.shape.dim]
        feeds[i.name] = torch.from_numpy(rng.random(shape, dtype=np.float32))
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    classes = out_dims[1].dim_value
    labels = torch.from_numpy(rng.integers(0, classes, size=batch).astype(np.int64))
    opt = torch.optim.SGD(list(tg.params.values()), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = tg.forward(feeds)[0]
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        opt.step()

    step()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        step()
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
    exe = target_dir() / "release" / "wdq-bench-train"
    print(f"torch {torch.__version__}, batch {args.batch}, {args.iters} iterations, "
          f"load average {os.getloadavg()[0]:.2f}"
          + (", wdq with --keep-heap" if args.keep_heap else ""))
    print("medians (min in brackets), ms; ratio = wdq-exec / torch of the medians, "
          "min ratio = the same of the minimums (less sensitive to other load)")
    print(f"{'model':<14} {'thr':>3} {'batch':>5} {'wdq-exec step':>18} {'torch step':>18} {'ratio':>6} {'min ratio':>9}")
    for rel in args.models:
        path = ROOT / rel
        name = path.stem
        for threads in args.threads:
            out = subprocess.run([str(exe), str(path), str(args.batch), str(threads), str(args.iters)],
                                 check=True, capture_output=True, text=True, env=env).stdout
            ours = json.loads(out)
            theirs, theirs_min = torch_ms(path, args.batch, threads, args.iters)
            print(f"{name:<14} {threads:>3} {args.batch:>5} {fmt(ours['median_ms'], ours['min_ms']):>18} "
                  f"{fmt(theirs, theirs_min):>18} {ours['median_ms'] / theirs:>6.2f} "
                  f"{ours['min_ms'] / theirs_min:>9.2f}", flush=True)


if __name__ == "__main__":
    main()

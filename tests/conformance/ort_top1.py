#!/usr/bin/env python3
"""Top-1 accuracy of a classifier ONNX model on a labelled .npz data set.

usage: ort_top1.py MODEL.onnx DATA.npz [--predictions out.npy] [--input-key input]
                   [--labels-key labels] [--batch 256]

DATA.npz holds the model's (single) input under --input-key (default: the
model's input name, else "input") and integer labels under --labels-key
(default "labels"). Runs onnxruntime CPU, takes argmax over the last axis of
the first output, prints the top-1 accuracy as one number on stdout, and with
--predictions writes the int64 argmax per sample as .npy.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--predictions", help="write int64 argmax predictions to this .npy")
    ap.add_argument("--input-key", help="npz key of the input (default: model input name, "
                                        "else 'input')")
    ap.add_argument("--labels-key", default="labels")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    except Exception as e:
        print(f"FAIL: onnxruntime could not load {args.model}: {e}", file=sys.stderr)
        return 1
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        print(f"FAIL: expected a single-input model, got {[i.name for i in inputs]}",
              file=sys.stderr)
        return 1
    in_name = inputs[0].name
    with np.load(args.data, allow_pickle=False) as z:
        key = args.input_key or (in_name if in_name in z.files else "input")
        if key not in z.files or args.labels_key not in z.files:
            print(f"FAIL: {args.data} needs keys {key!r} and {args.labels_key!r}, "
                  f"has {z.files}", file=sys.stderr)
            return 1
        x = z[key]
        labels = z[args.labels_key].astype(np.int64)
    out_name = sess.get_outputs()[0].name
    preds = []
    for s in range(0, len(x), args.batch):
        logits = sess.run([out_name], {in_name: x[s:s + args.batch]})[0]
        preds.append(np.asarray(logits).reshape(len(x[s:s + args.batch]), -1).argmax(-1))
    pred = np.concatenate(preds).astype(np.int64) if preds else np.zeros(0, np.int64)
    acc = float((pred == labels).mean()) if len(labels) else 0.0
    print(f"{acc:.6f}")
    print(f"top-1 {int((pred == labels).sum())}/{len(labels)}", file=sys.stderr)
    if args.predictions:
        np.save(args.predictions, pred)
    return 0


if __name__ == "__main__":
    sys.exit(main())

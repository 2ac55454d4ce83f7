#!/usr/bin/env python3
"""Checks a model written by the main command against its report:
onnx.checker full check, then onnxruntime's top-1 on the validation data
must equal the report's `final_accuracy` within one sample.

usage: ort_lowered.py MODEL.onnx VAL.npz REPORT.json
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, data_path, report_path = sys.argv[1:4]
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    data = np.load(data_path)
    labels = data["labels"]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    key = name if name in data.files else [k for k in data.files if k != "labels"][0]
    logits = sess.run(None, {name: data[key]})[0]
    ort_top1 = 100.0 * float((logits.argmax(axis=1) == labels).mean())
    report = json.load(open(report_path))
    predicted = report["final_accuracy"]
    one_sample = 100.0 / len(labels)
    ok = abs(ort_top1 - predicted) <= one_sample + 1e-9
    print(f"{model_path}: onnxruntime top-1 {ort_top1:.3f}%, planner predicted {predicted:.3f}% "
          f"({report['low_bit_layers']} layers at {report['low_bits']} bits) {'ok' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

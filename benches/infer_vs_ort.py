#!/usr/bin/env python3
"""wdq-exec inference time against onnxruntime on the same models, batch and
thread count, measured in the same run. Prints a table with the ratio
wdq-exec / onnxruntime (below 1.0: wdq-exec is faster).

usage: python3 benches/infer_vs_ort.py [--batch 32] [--threads 1 2] [--iters 20]
                                       [--models PATH ...]
Needs: cargo, and onnxruntime + numpy (tests/conformance/requirements.txt).
"""
import pathlib
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from harness import compare, median_and_min_ms  # noqa: E402

MODELS = [
    "fixtures/models/mlp.onnx",
    "fixtures/models/lenet.onnx",
    "fixtures/models/resnet_bn.onnx",
    "fixtures/models/mobilenet_se.onnx",
    "fixtures/models/torch_style.onnx",
    "fixtures/digits/digits_cnn.onnx",
]


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
    return median_and_min_ms(lambda: sess.run(None, feeds), iters)


def main():
    compare("wdq-bench-infer", MODELS, "onnxruntime", ort.__version__,
            ("wdq-exec", "onnxruntime"), ort_ms)


if __name__ == "__main__":
    main()

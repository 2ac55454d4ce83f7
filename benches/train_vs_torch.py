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
import pathlib
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from harness import compare, median_and_min_ms  # noqa: E402
from torch_graph import TorchGraph  # noqa: E402

MODELS = [
    "fixtures/models/lenet.onnx",
    "fixtures/models/mobilenet_se.onnx",
    "fixtures/models/resnet_bn.onnx",
    "fixtures/digits/digits_cnn.onnx",
]


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

    return median_and_min_ms(step, iters)


def main():
    compare("wdq-bench-train", MODELS, "torch", torch.__version__,
            ("wdq-exec step", "torch step"), torch_ms)


if __name__ == "__main__":
    main()

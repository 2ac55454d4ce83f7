"""A minimal ONNX -> PyTorch interpreter for the fixture models, float32,
for benches/train_vs_torch.py. The op table follows
fixtures/gen/make_grad_refs.py (that module is not imported: it pins torch
to one thread and deterministic algorithms at import time).

Trainable, as in wdq_autodiff::training_step with the default StepOptions:
the weight and bias of every Conv / Gemm / MatMul layer (the bias of a
MatMul is the constant operand of the Add that follows it). Everything else
(BatchNormalization scale/bias/statistics, Clip bounds, shapes) is a plain
tensor; BatchNormalization is the inference form (frozen statistics, like
eval-mode BatchNorm), computed with F.batch_norm(training=False).
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


def attrs_of(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _no_auto_pad(node, at):
    ap = at.get("auto_pad", b"NOTSET")
    ap = ap.decode() if isinstance(ap, bytes) else ap
    if ap != "NOTSET":
        raise NotImplementedError(f"{node.name or node.op_type}: auto_pad={ap}")


def _split_pads(pads, nsp):
    """ONNX pads [b1..bn, e1..en] -> (symmetric pads, F.pad list or None)."""
    if not pads:
        return [0] * nsp, None
    begin, end = list(pads[:nsp]), list(pads[nsp:])
    if begin == end:
        return begin, None
    fpad = []
    for b, e in zip(reversed(begin), reversed(end)):
        fpad += [b, e]
    return [0] * nsp, fpad


def _conv(node, at, x, w, b=None):
    _no_auto_pad(node, at)
    nsp = w.dim() - 2
    if nsp != 2:
        raise NotImplementedError(f"Conv with {nsp} spatial dims")
    pads, fpad = _split_pads(at.get("pads"), nsp)
    if fpad is not None:
        x = F.pad(x, fpad)
    return F.conv2d(x, w, b, stride=tuple(at.get("strides", [1] * nsp)),
                    padding=tuple(pads), dilation=tuple(at.get("dilations", [1] * nsp)),
                    groups=at.get("group", 1))


def _gemm(node, at, a, b, c=None):
    if at.get("transA", 0):
        a = a.t()
    if at.get("transB", 0):
        b = b.t()
    alpha, beta = at.get("alpha", 1.0), at.get("beta", 1.0)
    if c is not None and alpha == 1.0 and beta == 1.0 and c.dim() == 1:
        return torch.addmm(c, a, b)
    y = a @ b if alpha == 1.0 else alpha * (a @ b)
    if c is not None:
        y = y + (c if beta == 1.0 else beta * c)
    return y


def _clip(node, at, x, lo=None, hi=None):
    if "min" in at or "max" in at:
        lo, hi = at.get("min"), at.get("max")
    lo = None if lo is None else float(lo)
    hi = None if hi is None else float(hi)
    return torch.clamp(x, min=lo, max=hi)


def _hardsigmoid(node, at, x):
    return torch.clamp(at.get("alpha", 0.2) * x + at.get("beta", 0.5), 0.0, 1.0)


def _maxpool(node, at, x, *_):
    _no_auto_pad(node, at)
    if len(node.output) > 1 and node.output[1]:
        raise NotImplementedError("MaxPool Indices output")
    k = at["kernel_shape"]
    pads, fpad = _split_pads(at.get("pads"), len(k))
    if fpad is not None:
        x = F.pad(x, fpad, value=float("-inf"))
    return F.max_pool2d(x, tuple(k), stride=tuple(at.get("strides", [1] * len(k))),
                        padding=tuple(pads), dilation=tuple(at.get("dilations", [1] * len(k))),
                        ceil_mode=bool(at.get("ceil_mode", 0)))


def _avgpool(node, at, x):
    _no_auto_pad(node, at)
    k = at["kernel_shape"]
    pads, fpad = _split_pads(at.get("pads"), len(k))
    include = bool(at.get("count_include_pad", 0))
    if fpad is not None:
        if not include:
            raise NotImplementedError("AveragePool asymmetric pads with count_include_pad=0")
        x = F.pad(x, fpad)
    return F.avg_pool2d(x, tuple(k), stride=tuple(at.get("strides", [1] * len(k))),
                        padding=tuple(pads), ceil_mode=bool(at.get("ceil_mode", 0)),
                        count_include_pad=include)


def _batchnorm(node, at, x, scale, bias, mean, var):
    if len([o for o in node.output if o]) > 1 or at.get("training_mode", 0):
        raise NotImplementedError("BatchNormalization training mode")
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=at.get("epsilon", 1e-5))


def _flatten(node, at, x):
    axis = at.get("axis", 1)
    if axis < 0:
        axis += x.dim()
    lead = 1
    for d in x.shape[:axis]:
        lead *= d
    return x.reshape(lead, -1)


def _reshape(node, at, x, shape):
    shape = [int(s) for s in shape.tolist()]
    if not at.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


OPS = {
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": lambda n, at, a, b: torch.matmul(a, b),
    "Add": lambda n, at, a, b: a + b,
    "Mul": lambda n, at, a, b: a * b,
    "Relu": lambda n, at, x: torch.relu(x),
    "Clip": _clip,
    "HardSwish": lambda n, at, x: F.hardswish(x),
    "HardSigmoid": _hardsigmoid,
    "MaxPool": _maxpool,
    "AveragePool": _avgpool,
    "GlobalAveragePool": lambda n, at, x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True),
    "Flatten": _flatten,
    "BatchNormalization": _batchnorm,
    "Reshape": _reshape,
    "Identity": lambda n, at, x: x,
}

LAYERS = {"Conv", "Gemm", "MatMul"}


def _trainable_names(graph, init_names):
    """Weights and biases of the weighted layers (see the module doc)."""
    names = set()
    users = {}
    for node in graph.node:
        for i in node.input:
            users.setdefault(i, []).append(node)
    for node in graph.node:
        if node.op_type not in LAYERS:
            continue
        names.update(i for i in node.input[:3] if i in init_names)
        if node.op_type == "MatMul":
            after = users.get(node.output[0], [])
            if len(after) == 1 and after[0].op_type == "Add":
                names.update(i for i in after[0].input if i in init_names)
    return names


class TorchGraph:
    """Interprets an ONNX graph in float32 PyTorch. `params` are the leaf
    tensors that require grad (see the module doc)."""

    def __init__(self, model: onnx.ModelProto):
        self.graph = model.graph
        inits = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        trainable = _trainable_names(self.graph, set(inits))
        self.params: dict[str, torch.Tensor] = {}
        self.consts: dict[str, torch.Tensor] = {}
        for name, arr in inits.items():
            if arr.dtype.kind == "f":
                t = torch.tensor(arr.astype(np.float32))
                if name in trainable:
                    self.params[name] = t.requires_grad_(True)
                else:
                    self.consts[name] = t
            else:
                self.consts[name] = torch.from_numpy(np.array(arr))
        self.inputs = [i.name for i in self.graph.input if i.name not in inits]
        self.nodes = []
        for node in self.graph.node:
            if node.domain not in ("", "ai.onnx"):
                raise NotImplementedError(f"domain {node.domain}")
            if node.op_type not in OPS:
                raise NotImplementedError(f"op {node.op_type}")
            self.nodes.append((node, attrs_of(node)))

    def forward(self, feeds: dict) -> list:
        env = dict(self.consts)
        env.update(self.params)
        env.update(feeds)
        for node, at in self.nodes:
            args = [env[i] if i else None for i in node.input]
            while args and args[-1] is None:
                args.pop()
            env[node.output[0]] = OPS[node.op_type](node, at, *args)
        return [env[o.name] for o in self.graph.output]

#!/usr/bin/env python3
"""Reference values for wdq-quant from onnxruntime's QuantizeLinear/DequantizeLinear.

Writes data/reference.npz (next to this script). For every case NAME:
  NAME_x      float32 input
  NAME_scale  float32 scales (one, or one per channel)
  NAME_zp     int32 zero points
  NAME_meta   int32 [bits, signed (0/1), axis (-1 when per tensor)]
  NAME_q      int32 QuantizeLinear output (cast to int32 inside the model)
  NAME_y      float32 DequantizeLinear(QuantizeLinear(x))
and for int32 bias dequantization, case "bias":
  bias_q int32 codes, bias_scale float32 per-channel scales, bias_y float32.

Inputs include random values, exact ties (k + 0.5) * scale (kept only where
x / scale is exactly k + 0.5 in float32), values beyond the range, signed
zeros, NaN and infinities.

Pinned versions used to generate the committed file:
  python 3.11.7, numpy 2.4.6, onnx 1.23.2, onnxruntime 1.32.0 (CPUExecutionProvider)
Run: python3 gen_reference.py   (fixed seed; output is deterministic)
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

SEED = 20240521
TYPES = {
    (4, True): TensorProto.INT4,
    (4, False): TensorProto.UINT4,
    (8, True): TensorProto.INT8,
    (8, False): TensorProto.UINT8,
    (16, True): TensorProto.INT16,
    (16, False): TensorProto.UINT16,
}


def qrange(bits, signed):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def run_qdq(x, scale, zp, bits, signed, axis):
    dtype = TYPES[(bits, signed)]
    attrs = {} if axis is None else {"axis": axis}
    shape = list(scale.shape)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], **attrs),
        helper.make_node("Cast", ["q"], ["q32"], to=TensorProto.INT32),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [
            helper.make_tensor_value_info("q32", TensorProto.INT32, list(x.shape)),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x.shape)),
        ],
        [
            helper.make_tensor("s", TensorProto.FLOAT, shape, scale.flatten().tolist()),
            helper.make_tensor("z", dtype, shape, [int(v) for v in zp.flatten()]),
        ],
    )
    opset = 21 if bits in (4, 16) else 19
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    q, y = sess.run(None, {"x": x})
    return q.astype(np.int32), y.astype(np.float32)


def run_bias_dq(q, scale):
    nodes = [helper.make_node("DequantizeLinear", ["q", "s"], ["y"], axis=0)]
    graph = helper.make_graph(
        nodes,
        "dq",
        [helper.make_tensor_value_info("q", TensorProto.INT32, list(q.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(q.shape))],
        [helper.make_tensor("s", TensorProto.FLOAT, list(scale.shape), scale.tolist())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"q": q})[0]


def exact_ties(scale, lo, hi, rng, n):
    """Values x with float32 x / scale == k + 0.5 exactly, for k in [lo, hi]."""
    k = rng.integers(lo, hi + 1, size=4 * n).astype(np.float32)
    x = (k + np.float32(0.5)) * np.float32(scale)
    keep = (x / np.float32(scale)) == (k + np.float32(0.5))
    return x[keep][:n].astype(np.float32)


def make_input(rng, shape, scales, axis, bits, signed, zps):
    """Random values over about 1.3x the grid, with ties and specials mixed in."""
    n = int(np.prod(shape))
    qmin, qmax = qrange(bits, signed)
    x = np.empty(n, np.float32)
    flat_channel = channel_index(shape, axis)
    s = scales[flat_channel]
    z = zps[flat_channel]
    u = rng.uniform(qmin - 0.15 * (qmax - qmin), qmax + 0.15 * (qmax - qmin), size=n)
    x[:] = ((u - z) * s).astype(np.float32)
    # Ties: a third of the elements, each for its own channel's scale.
    idx = rng.choice(n, size=n // 3, replace=False)
    for i in idx:
        t = exact_ties(s[i], qmin - int(z[i]) - 2, qmax - int(z[i]) + 1, rng, 1)
        if t.size:
            x[i] = t[0]
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, -1e-30], np.float32)
    pos = rng.choice(n, size=min(len(specials), n), replace=False)
    x[pos] = specials[: len(pos)]
    return x.reshape(shape)


def channel_index(shape, axis):
    n = int(np.prod(shape))
    if axis is None:
        return np.zeros(n, np.int64)
    idx = np.indices(shape)[axis]
    return idx.reshape(-1)


def main():
    rng = np.random.default_rng(SEED)
    cases = [
        # name, bits, signed, shape, axis, power-of-two scales
        ("int8_tensor", 8, True, (3, 97), None, False),
        ("uint8_tensor", 8, False, (5, 61), None, False),
        ("int8_axis0", 8, True, (4, 3, 25), 0, False),
        ("int8_axis1", 8, True, (4, 6, 15), 1, False),
        ("uint8_axis1", 8, False, (2, 7, 23), 1, False),
        ("uint8_axis2", 8, False, (3, 5, 9), 2, False),
        ("int8_pow2_axis0", 8, True, (8, 40), 0, True),
        ("int4_tensor", 4, True, (7, 31), None, False),
        ("uint4_tensor", 4, False, (7, 31), None, False),
        ("int4_axis0", 4, True, (6, 3, 11), 0, False),
        ("int4_pow2_axis1", 4, True, (3, 8, 13), 1, True),
        ("uint4_axis1", 4, False, (5, 9), 1, False),
        ("int16_tensor", 16, True, (301,), None, False),
        ("uint16_axis0", 16, False, (4, 77), 0, False),
    ]
    out = {}
    for name, bits, signed, shape, axis, pow2 in cases:
        qmin, qmax = qrange(bits, signed)
        channels = 1 if axis is None else shape[axis]
        if pow2:
            scales = np.exp2(-rng.integers(-2, 9, size=channels)).astype(np.float32)
        else:
            scales = rng.uniform(1e-3, 0.2, size=channels).astype(np.float32)
        zps = rng.integers(qmin, qmax + 1, size=channels)
        if signed and bits == 8 and name.startswith("int8_axis"):
            zps[:] = 0
        x = make_input(rng, shape, scales, axis, bits, signed, zps)
        sc = scales if axis is not None else scales.reshape(())
        zp = zps if axis is not None else zps.reshape(())
        q, y = run_qdq(x, sc, zp, bits, signed, axis)
        out[f"{name}_x"] = x
        out[f"{name}_scale"] = scales
        out[f"{name}_zp"] = zps.astype(np.int32)
        out[f"{name}_meta"] = np.array([bits, int(signed), -1 if axis is None else axis], np.int32)
        out[f"{name}_q"] = q
        out[f"{name}_y"] = y

    # int32 bias dequantization, per channel, including codes beyond 2^24.
    bias_q = np.concatenate(
        [
            rng.integers(-(1 << 20), 1 << 20, size=20),
            np.array([(1 << 24) + 1, -(1 << 24) - 3, (1 << 31) - 1, -(1 << 31), 0, 123456789]),
        ]
    ).astype(np.int32)
    bias_scale = rng.uniform(1e-6, 1e-3, size=bias_q.size).astype(np.float32)
    out["bias_q"] = bias_q
    out["bias_scale"] = bias_scale
    out["bias_y"] = run_bias_dq(bias_q, bias_scale)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "reference.npz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"wrote {path}: {len(cases)} QDQ cases, {sum(v.size for v in out.values())} values")


if __name__ == "__main__":
    main()

"""Numerical check of wdq-onnx's opset conversion against onnxruntime.

usage: python3 legacy_opsets.py REENCODE_BINARY [WORK_DIR]

Builds small models at old opsets (one per group of rewritten ops), converts
each to several targets with the `reencode` example of wdq-onnx
(`cargo build -p wdq-onnx --example reencode`), checks the result with the
ONNX checker and compares onnxruntime outputs of the original and the
converted model. Not run by cargo.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
rng = np.random.default_rng(0)


def model(opset, nodes, inputs, outputs, inits=(), elem=F):
    graph = helper.make_graph(
        nodes,
        "legacy",
        [helper.make_tensor_value_info(n, elem, s) for n, s in inputs],
        [helper.make_empty_tensor_value_info(n) for n in outputs],
        [numpy_helper.from_array(v, n) for n, v in inits],
    )
    ir = {7: 4, 8: 4, 9: 4, 10: 5, 11: 6, 12: 7}.get(opset, 7)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir)
    inferred = onnx.shape_inference.infer_shapes(m)
    types = {v.name: v.type for v in inferred.graph.value_info}
    for out in m.graph.output:
        out.type.CopyFrom(types[out.name])
    return m


def cases():
    n = helper.make_node
    yield "softmax_family_11", model(11, [
        n("Softmax", ["x"], ["s1"], axis=1),
        n("LogSoftmax", ["x"], ["s2"], axis=2),
        n("Hardmax", ["x"], ["s3"]),
        n("Softmax", ["x"], ["s4"], axis=-1),
        n("Softmax", ["x"], ["s5"], axis=-3),
    ], [("x", ["N", 3, 4, 5])], ["s1", "s2", "s3", "s4", "s5"]), {"x": (2, 3, 4, 5)}
    yield "clip_pad_slice_9", model(9, [
        n("Clip", ["x"], ["c"], min=-0.5, max=0.7),
        n("Pad", ["c"], ["p"], pads=[0, 0, 1, 2, 0, 0, 2, 1], value=1.5),
        n("Slice", ["p"], ["s"], starts=[1, 0], ends=[4, 100], axes=[2, 3]),
        n("Dropout", ["s"], ["d"], ratio=0.3),
        n("Upsample", ["d", "scales"], ["u"], mode="nearest"),
        n("TopK", ["u"], ["tv", "ti"], k=3),
    ], [("x", [2, 3, 4, 5])], ["tv"], [("scales", np.array([1, 1, 2, 2], np.float32))]), {"x": (2, 3, 4, 5)}
    yield "upsample_attr_8", model(8, [
        n("Upsample", ["x"], ["u"], mode="linear", scales=[1.0, 1.0, 2.0, 3.0]),
        n("BatchNormalization", ["u", "g", "b", "m", "v"], ["bn"], epsilon=1e-3, spatial=1),
        n("Clip", ["bn"], ["c"], max=0.5),
    ], [("x", [1, 3, 4, 5])], ["c"], [
        ("g", rng.random(3, dtype=np.float32) + 0.5), ("b", rng.random(3, dtype=np.float32)),
        ("m", rng.random(3, dtype=np.float32)), ("v", rng.random(3, dtype=np.float32) + 0.5),
    ]), {"x": (1, 3, 4, 5)}
    yield "clip_f16_9", model(9, [
        n("Clip", ["x"], ["c"], min=-0.5, max=0.7),
        n("Relu", ["c"], ["r"]),
    ], [("x", [2, 3])], ["r"], elem=TensorProto.FLOAT16), {"x": (2, 3)}
    yield "resize_10", model(10, [
        n("Resize", ["x", "scales"], ["r1"], mode="nearest"),
        n("Resize", ["x", "scales"], ["r2"], mode="linear"),
    ], [("x", [1, 2, 3, 4])], ["r1", "r2"], [("scales", np.array([1, 1, 2, 1.5], np.float32))]), {"x": (1, 2, 3, 4)}
    yield "axes_split_12", model(12, [
        n("ReduceSum", ["x"], ["rs"], axes=[1], keepdims=1),
        n("ReduceMax", ["x"], ["rm"], axes=[2, 3], keepdims=0),
        n("Squeeze", ["rs"], ["sq"], axes=[1]),
        n("Unsqueeze", ["rm"], ["us"], axes=[0, 3]),
        n("Split", ["x"], ["a", "b"], axis=1, split=[1, 2]),
        n("Split", ["x"], ["c", "d"], axis=3),
        n("ReduceMean", ["x"], ["mean_all"], keepdims=0),
    ], [("x", [2, 3, 4, 6])], ["sq", "us", "a", "b", "c", "d", "mean_all"]), {"x": (2, 3, 4, 6)}


def main():
    binary = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    failures = 0
    for name, m, shapes in cases():
        src = os.path.join(work, f"{name}.onnx")
        onnx.save(m, src)
        onnx.checker.check_model(m)
        dtype = np.float16 if m.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16 else np.float32
        feeds = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
        want = ort.InferenceSession(src).run(None, feeds)
        start = m.opset_import[0].version
        for target in sorted({max(start, 11), 13, 18, 21}):
            dst = os.path.join(work, f"{name}.to{target}.onnx")
            run = subprocess.run([binary, src, dst, str(target)], capture_output=True, text=True)
            if run.returncode != 0:
                print(f"FAIL {name} -> {target}: {run.stderr.strip()}")
                failures += 1
                continue
            try:
                onnx.checker.check_model(onnx.load(dst), full_check=True)
                got = ort.InferenceSession(dst).run(None, feeds)
                for w, g in zip(want, got):
                    np.testing.assert_allclose(w, g, rtol=1e-5, atol=1e-6)
                print(f"ok   {name} -> {target}: {run.stderr.strip()}")
            except Exception as e:  # report every case, then fail
                print(f"FAIL {name} -> {target}: {str(e)[:500]}")
                failures += 1
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

"""Compare an ONNX model with its wdq-onnx re-encoding.

usage: python3 compare_onnx.py ORIGINAL REENCODED [INPUTS.npz]

Checks that the graphs are semantically the same (same nodes, attributes,
initializer values, inputs/outputs) and, when onnxruntime is installed and
an inputs file is given, that both produce the same outputs. Not run by
cargo; a manual check for export and opset conversion.
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def attr_value(a):
    # Tensor names inside attributes carry no meaning; compare the values.
    if a.type == onnx.AttributeProto.TENSOR:
        arr = numpy_helper.to_array(a.t)
        return (str(arr.dtype), arr.shape, arr.tobytes())
    return onnx.helper.get_attribute_value(a)


def canon(model):
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for n in g.node:
        attrs = sorted((a.name, attr_value(a)) for a in n.attribute)
        nodes.append((n.op_type, n.domain or "", list(n.input), list(n.output), repr(attrs)))
    ios = ([(i.name, str(i.type)) for i in g.input], [(o.name, str(o.type)) for o in g.output])
    return inits, nodes, ios


def main():
    a = onnx.load(sys.argv[1])
    b = onnx.load(sys.argv[2])
    onnx.checker.check_model(b, full_check=True)
    same_structure = a.opset_import == b.opset_import
    if same_structure:
        ia, na, ioa = canon(a)
        ib, nb, iob = canon(b)
        used = {x for n in na for x in n[2]} | {i for i, _ in ioa[0]}
        ia = {k: v for k, v in ia.items() if k in used}
        assert ia.keys() == ib.keys(), (ia.keys() ^ ib.keys())
        for k in ia:
            assert ia[k].dtype == ib[k].dtype and np.array_equal(ia[k], ib[k]), k
        diff = [(x[:4], y[:4]) for x, y in zip(na, nb) if x != y]
        assert len(na) == len(nb) and not diff, str(diff[:3])[:2000]
        assert ioa == iob
    if len(sys.argv) > 3 and os.path.exists(sys.argv[3]):
        import onnxruntime as ort
        feeds = dict(np.load(sys.argv[3]))
        ra = ort.InferenceSession(sys.argv[1]).run(None, feeds)
        rb = ort.InferenceSession(sys.argv[2]).run(None, feeds)
        for x, y in zip(ra, rb):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    ran = len(sys.argv) > 3 and os.path.exists(sys.argv[3])
    print("ok", sys.argv[2], "same structure" if same_structure else "", "same outputs" if ran else "")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Check an ONNX model and compare its onnxruntime outputs with expected ones.

usage: ort_compare.py MODEL.onnx INPUTS.npz OUTPUTS.npz [--rtol 1e-4] [--atol 1e-5]

1. onnx.checker.check_model(MODEL, full_check=True)   (--no-full-check to relax)
2. run MODEL on onnxruntime's CPU provider with INPUTS (keys = graph input names)
3. compare every graph output with OUTPUTS (keys = graph output names):
   float outputs with |got - want| <= atol + rtol * |want| (NaNs must match),
   integer and bool outputs exactly (unless --int-tol N allows a difference).
   Max abs and max rel difference are printed per output.

Exit status: 0 when everything matches, 1 on a mismatch or any error
(checker failure, missing/extra inputs or outputs, shape/dtype mismatch).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def fail(msg: str) -> "NoReturn":  # noqa: F821
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def make_session(model_path: str, opt_level: str, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


def compare(name, got, want, rtol, atol, int_tol):
    """Returns (ok, report line)."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return False, f"{name}: shape {list(got.shape)} != expected {list(want.shape)}"
    if got.dtype != want.dtype:
        return False, f"{name}: dtype {got.dtype} != expected {want.dtype}"
    if got.size == 0:
        return True, f"{name}: empty {list(got.shape)} ok"
    if want.dtype.kind in "fc":
        g = got.astype(np.float64)
        w = want.astype(np.float64)
        nan_g, nan_w = np.isnan(g), np.isnan(w)
        if not np.array_equal(nan_g, nan_w):
            return False, f"{name}: NaN positions differ"
        finite = ~nan_w
        g, w = g[finite], w[finite]
        same_inf = (g == w)  # equal infinities give inf - inf = nan below
        diff = np.where(same_inf, 0.0, np.abs(g - w))
        nz = np.abs(w) > 0  # relative difference over non-zero expected values
        max_abs = float(diff.max()) if diff.size else 0.0
        max_rel = float((diff[nz] / np.abs(w[nz])).max()) if nz.any() else 0.0
        bad = diff > atol + rtol * np.abs(w)
        nbad = int(bad.sum())
        line = (f"{name}: {want.dtype} {list(want.shape)} max_abs={max_abs:.3e} "
                f"max_rel={max_rel:.3e}")
        if nbad:
            i = int(np.flatnonzero(bad)[0])
            where = np.unravel_index(np.flatnonzero(finite)[i], want.shape)
            return False, (line + f"  MISMATCH: {nbad}/{want.size} elements outside "
                           f"atol={atol:g} + rtol={rtol:g}*|expected|; first at "
                           f"{tuple(int(v) for v in where)}: got {got[where].item()!r}, "
                           f"expected {want[where].item()!r}")
        return True, line + "  ok"
    # integer / bool: exact (or within int_tol)
    g = got.astype(np.int64) if want.dtype != np.bool_ else got
    w = want.astype(np.int64) if want.dtype != np.bool_ else want
    if want.dtype == np.bool_:
        diff = (g != w).astype(np.int64)
    else:
        diff = np.abs(g - w)
    max_abs = int(diff.max())
    line = f"{name}: {want.dtype} {list(want.shape)} max_abs={max_abs} max_rel=n/a"
    bad = diff > int_tol
    if bad.any():
        where = np.unravel_index(int(np.flatnonzero(bad)[0]), want.shape)
        return False, (line + f"  MISMATCH: {int(bad.sum())}/{want.size} elements differ "
                       f"(int tolerance {int_tol}); first at "
                       f"{tuple(int(v) for v in where)}: got {got[where].item()!r}, "
                       f"expected {want[where].item()!r}")
    return True, line + "  ok"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("inputs", help=".npz keyed by graph input name")
    ap.add_argument("outputs", help=".npz keyed by graph output name")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--int-tol", type=int, default=0,
                    help="allowed |difference| for integer outputs (default 0: exact)")
    ap.add_argument("--no-full-check", action="store_true",
                    help="run onnx.checker without full_check (no strict shape inference)")
    ap.add_argument("--opt-level", choices=["disable", "basic", "extended", "all"],
                    default="disable",
                    help="onnxruntime graph optimization level (default: disable, so "
                         "that QDQ graphs are evaluated node by node)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import onnx

    try:
        onnx.checker.check_model(args.model, full_check=not args.no_full_check)
    except Exception as e:  # ValidationError, InferenceError, IO errors
        fail(f"onnx.checker rejected {args.model}: {e}")
    print(f"checker: ok ({'full_check' if not args.no_full_check else 'basic'})")

    with np.load(args.inputs, allow_pickle=False) as z:
        feeds = {k: z[k] for k in z.files}
    with np.load(args.outputs, allow_pickle=False) as z:
        expected = {k: z[k] for k in z.files}

    try:
        sess = make_session(args.model, args.opt_level, args.threads)
    except Exception as e:
        fail(f"onnxruntime could not load {args.model}: {e}")
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    missing = [n for n in in_names if n not in feeds]
    extra = [k for k in feeds if k not in in_names]
    if missing or extra:
        fail(f"inputs do not match the model: missing {missing}, not model inputs {extra} "
             f"(model inputs: {in_names})")
    missing = [n for n in out_names if n not in expected]
    extra = [k for k in expected if k not in out_names]
    if missing or extra:
        fail(f"expected outputs do not match the model: no expected value for {missing}, "
             f"not model outputs {extra} (model outputs: {out_names})")

    try:
        results = sess.run(out_names, feeds)
    except Exception as e:
        fail(f"onnxruntime failed to run {args.model}: {e}")

    ok = True
    for name, got in zip(out_names, results):
        good, line = compare(name, got, expected[name], args.rtol, args.atol, args.int_tol)
        print(line)
        ok &= good
    if not ok:
        fail(f"{args.model}: outputs differ from {args.outputs}")
    print(f"PASS: {len(out_names)} output(s) match")
    return 0


if __name__ == "__main__":
    sys.exit(main())

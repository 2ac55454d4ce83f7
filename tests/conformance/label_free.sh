#!/usr/bin/env bash
# The main command on non-classifier models without labels (issue: the
# method on unlabelled data): a detection-style [N,1,H,W] heat map and an
# embedding-style [N,1,1,D] output, each with the default metric (SQNR).
# The written model must pass the full ONNX check and its SQNR against the
# original, measured in onnxruntime, must equal the report's within 0.1 dB.
# Usage: PYTHON=python-with-onnxruntime bash tests/conformance/label_free.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
failed=0
for name in det_style embed_style; do
  dir=fixtures/label_free
  code=0
  "$BIN" "$dir/$name.onnx" -o "$WORK/$name.onnx" --cycles 2 \
    --train "$dir/${name}_train.npz" --val "$dir/${name}_val.npz" \
    --report "$WORK/$name.json" >"$WORK/$name.txt" || code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then
    echo "FAILED: main command on $name exited $code"; cat "$WORK/$name.txt"; failed=$((failed + 1)); continue
  fi
  "$PYTHON" tests/conformance/ort_sqnr.py "$dir/$name.onnx" "$WORK/$name.onnx" \
    "$dir/${name}_val.npz" "$WORK/$name.json" || failed=$((failed + 1))
done
echo "label-free conformance: $failed failed"
[ "$failed" -eq 0 ]

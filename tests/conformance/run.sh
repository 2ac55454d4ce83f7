#!/usr/bin/env bash
# onnxruntime conformance: every fixture model, and what `onnx-wdq convert`
# writes from it, must pass onnx.checker's full check and give the same
# outputs in onnxruntime as wdq-exec computes (`onnx-wdq eval --save-outputs`).
# Usage: PYTHON=python-with-onnxruntime bash tests/conformance/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
passed=0
failed=0

check() { # label, model, inputs npz
  local label=$1 model=$2 inputs=$3
  if "$BIN" eval "$model" --data "$inputs" --save-outputs "$WORK/out.npz" >/dev/null \
     && "$PYTHON" tests/conformance/ort_compare.py "$model" "$inputs" "$WORK/out.npz"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $label"
    failed=$((failed + 1))
  fi
}

for inputs in fixtures/models/*.inputs.npz; do
  name=$(basename "$inputs" .inputs.npz)
  model=fixtures/models/$name.onnx
  check "$name" "$model" "$inputs"
  "$BIN" convert "$model" -o "$WORK/$name.onnx"
  check "$name (convert)" "$WORK/$name.onnx" "$inputs"
done

for opset in 13 18 21; do
  "$BIN" convert fixtures/models/paddle_style.onnx --opset "$opset" -o "$WORK/paddle_$opset.onnx"
  check "paddle_style (convert --opset $opset)" "$WORK/paddle_$opset.onnx" fixtures/models/paddle_style.inputs.npz
done

# The bundled classifier: same top-1 as onnxruntime, sample for sample.
"$BIN" eval fixtures/digits/digits_cnn.onnx --data fixtures/digits/val.npz --json > "$WORK/digits.json"
"$PYTHON" tests/conformance/ort_top1.py fixtures/digits/digits_cnn.onnx fixtures/digits/val.npz \
  --predictions "$WORK/ort_pred.npy" > "$WORK/ort_top1.txt"
if "$PYTHON" - "$WORK/digits.json" "$WORK/ort_pred.npy" <<'PY'
import json, sys, numpy as np
ours = np.array(json.load(open(sys.argv[1]))["predictions"], dtype=np.int64)
ort = np.load(sys.argv[2])
diff = int((ours != ort).sum())
print(f"digits val: {len(ort)} samples, {diff} predictions differ from onnxruntime")
sys.exit(1 if diff else 0)
PY
then passed=$((passed + 1)); else echo "FAILED: digits predictions"; failed=$((failed + 1)); fi

# The main command on the bundled classifier, INT4 packed (opset 21) and in
# int8 containers: onnxruntime's top-1 on the validation data must equal the
# accuracy the planner predicted, within one sample.
for storage in packed int8; do
  code=0
  "$BIN" fixtures/digits/digits_cnn.onnx -o "$WORK/digits_$storage.onnx" \
    --train fixtures/digits/train.npz --val fixtures/digits/val.npz \
    --int4-storage "$storage" --report "$WORK/report_$storage.json" >/dev/null || code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then
    echo "FAILED: main command ($storage) exited $code"; failed=$((failed + 1)); continue
  fi
  if "$PYTHON" tests/conformance/ort_lowered.py "$WORK/digits_$storage.onnx" fixtures/digits/val.npz \
       "$WORK/report_$storage.json"; then
    passed=$((passed + 1))
  else
    echo "FAILED: main command ($storage)"; failed=$((failed + 1))
  fi
done

# A real PyTorch-exported CNN at 3 bits, where the search has work to do.
code=0
"$BIN" fixtures/torch/mnist_cnn.onnx -o "$WORK/mnist_w3.onnx" --cycles 2 --low-bits 3 \
  --train fixtures/torch/mnist_train.npz --val fixtures/torch/mnist_val.npz \
  --report "$WORK/report_mnist.json" >/dev/null || code=$?
if { [ "$code" -eq 0 ] || [ "$code" -eq 3 ]; } && "$PYTHON" tests/conformance/ort_lowered.py \
     "$WORK/mnist_w3.onnx" fixtures/torch/mnist_val.npz "$WORK/report_mnist.json"; then
  passed=$((passed + 1))
else
  echo "FAILED: main command on mnist_cnn (exit $code)"; failed=$((failed + 1))
fi

echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

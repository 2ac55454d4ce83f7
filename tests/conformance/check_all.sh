#!/usr/bin/env bash
# Run ort_compare.py on every fixture that has inputs/expected npz, and
# ort_top1.py on the digits classifier (validation top-1 and predictions must
# match fixtures/digits/). Usage: tests/conformance/check_all.sh [DIR ...]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PY="${PYTHON:-python3}"
dirs=("$@")
[ ${#dirs[@]} -eq 0 ] && dirs=("$root/fixtures/models" "$root/fixtures/ops")
n=0; failed=()
for d in "${dirs[@]}"; do
  for m in "$d"/*.onnx; do
    b="${m%.onnx}"
    [ -f "$b.inputs.npz" ] && [ -f "$b.expected.npz" ] || continue
    n=$((n + 1))
    if ! out="$("$PY" "$here/ort_compare.py" "$m" "$b.inputs.npz" "$b.expected.npz" 2>&1)"; then
      failed+=("$(basename "$b")"); printf '%s\n' "$out" | tail -n 4
    fi
  done
done
if [ $# -eq 0 ]; then
  dg="$root/fixtures/digits"; tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  n=$((n + 1))
  acc="$("$PY" "$here/ort_top1.py" "$dg/digits_cnn.onnx" "$dg/val.npz" --predictions "$tmp/p.npy" 2>/dev/null)"
  if [ "$acc" != "$(cat "$dg/expected_val_top1.txt")" ] || ! "$PY" -c "import sys, numpy as np; sys.exit(0 if np.array_equal(np.load(sys.argv[1]), np.load(sys.argv[2])) else 1)" "$tmp/p.npy" "$dg/val_predictions.npy"; then
    failed+=("digits_cnn (val top-1 $acc)")
  fi
fi
echo "$n checked, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]

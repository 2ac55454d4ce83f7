#!/usr/bin/env bash
# Peak memory of `onnx-wdq analyze` against the number of fine-tuning
# cycles K: runs the release binary on the digits fixture for K = 2 and
# K = 20 (override with: benches/drift_memory.sh 2 20 50) under
# /usr/bin/time -v and prints the maximum resident set size of each run and
# the ratio to the first K. Per-cycle drift summaries are small, so the
# peak should stay nearly flat in K.
#
# Needs: cargo and GNU time (`apt-get install -y time`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ ! -x /usr/bin/time ]; then
    echo "GNU time is missing: apt-get install -y time" >&2
    exit 1
fi
cycles=("$@")
[ ${#cycles[@]} -gt 0 ] || cycles=(2 20)
cargo build --release -q -p onnx-wdq
exe="${CARGO_TARGET_DIR:-$root/target}/release/onnx-wdq"
model=fixtures/digits/digits_cnn.onnx
data=fixtures/digits/train.npz
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%6s %14s %10s %8s\n' K max_rss_kib wall_s ratio
first=""
for k in "${cycles[@]}"; do
    /usr/bin/time -v "$exe" analyze "$model" --data "$data" --cycles "$k" >/dev/null 2>"$log" || {
        cat "$log" >&2
        exit 1
    }
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    wall=$(awk -F': ' '/Elapsed \(wall clock\) time/ {print $2}' "$log")
    [ -n "$first" ] || first=$rss
    ratio=$(awk -v a="$rss" -v b="$first" 'BEGIN {printf "%.2f", a / b}')
    printf '%6s %14s %10s %8s\n' "$k" "$rss" "$wall" "$ratio"
done

# Sourced by the conformance scripts: moves to the repository root, sets
# PYTHON (default python3), builds the debug binary as BIN, and makes a
# scratch folder WORK that is removed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PYTHON=${PYTHON:-python3}
cargo build --quiet -p onnx-wdq
BIN=target/debug/onnx-wdq
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

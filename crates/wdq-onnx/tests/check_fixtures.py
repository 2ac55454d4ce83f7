"""Re-encode and convert every fixture model with wdq-onnx and compare it
with the original under onnxruntime.

usage: python3 check_fixtures.py REENCODE_BINARY FIXTURES_DIR [WORK_DIR]

For each `*.onnx` under FIXTURES_DIR/{models,ops,digits}: re-encodes it
unchanged (same structure, same outputs) and converts it to opsets 13, 18
and 21 where that is an upgrade (same outputs). Build the binary with
`cargo build -p wdq-onnx --example reencode`. Not run by cargo.
"""
import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    binary, fixtures = sys.argv[1], sys.argv[2]
    work = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, RUST_BACKTRACE="0")
    failures = checked = 0
    for sub in ("models", "ops", "digits"):
        for src in sorted(glob.glob(os.path.join(fixtures, sub, "*.onnx"))):
            base = src[: -len(".onnx")]
            name = os.path.basename(base)
            inputs = base + ".inputs.npz"
            for target in (None, 13, 18, 21):
                dst = os.path.join(work, f"{name}.{target or 'same'}.onnx")
                args = [binary, src, dst] + ([str(target)] if target else [])
                run = subprocess.run(args, capture_output=True, text=True, env=env)
                if run.returncode != 0:
                    if "downgrading" not in run.stderr:
                        print(f"REFUSED {sub}/{name} -> {target}: {run.stderr.strip()[:300]}")
                        failures += 1
                    continue
                cmp = subprocess.run(
                    [sys.executable, os.path.join(HERE, "compare_onnx.py"), src, dst, inputs],
                    capture_output=True,
                    text=True,
                )
                checked += 1
                if cmp.returncode != 0:
                    print(f"FAIL {sub}/{name} -> {target}: {cmp.stderr.strip()[-500:]}")
                    failures += 1
    print(f"{checked} conversions checked, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

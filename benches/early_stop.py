"""Search work with and without early stopping: one onnx-wdq binary, each
case run with and without --full-eval (REPEATS times, the minimum seconds
kept), from the JSON reports: candidate evaluations, validation samples run
against a full run of each, the search stage's seconds, and whether the
written bytes and the decisions agree.

    python3 benches/early_stop.py BINARY CASES.json [--repeats 3]

CASES.json: [{"name": "...", "args": ["model.onnx", "--train", ...],
"repeats": N (optional)}, ...] (paths relative to the working directory).
"""
import argparse, hashlib, json, subprocess, sys, tempfile, os


def once(binary, args, full, out_dir):
    tag = "full" if full else "early"
    model, report = os.path.join(out_dir, tag + ".onnx"), os.path.join(out_dir, tag + ".json")
    cmd = [binary, *args, "-o", model, "--report", report] + (["--full-eval"] if full else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        sys.exit(f"{cmd}: {done.stderr}")
    r = json.load(open(report))
    digest = hashlib.sha256(open(model, "rb").read()).hexdigest()[:12]
    decided = [(c["low_bit_layers"], c["within_threshold"]) for c in r["candidates"]]
    return r, digest, decided


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("cases")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print("| case | mode | evaluations | samples run / full | search s (min) | validation s (min) | saved s (est.) | model sha256 | same decisions |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case in json.load(open(a.cases)):
        rows = {}
        with tempfile.TemporaryDirectory() as d:
            for full in (True, False):
                best = None
                for _ in range(case.get("repeats", a.repeats)):
                    r, digest, decided = once(a.binary, case["args"], full, d)
                    w = r["search_work"]
                    t = (r["seconds"]["search"], w["seconds"])
                    best = t if best is None else (min(best[0], t[0]), min(best[1], t[1]))
                rows[full] = (r, digest, decided, best)
        same = rows[True][1] == rows[False][1] and rows[True][2] == rows[False][2]
        for full in (True, False):
            r, digest, decided, best = rows[full]
            w = r["search_work"]
            print(f"| {case['name']} | {'full' if full else 'early'} | {w['evaluations']} | "
                  f"{w['samples']} / {w['full_samples']} | {best[0]:.2f} | {best[1]:.2f} | "
                  f"{w['seconds_saved']:.2f} | {digest} | {'yes' if same else 'NO'} |")


main()

"""What the benchmark scripts share: timing a callable, building the wdq
bench binary, and printing the side-by-side table with ratios against a
reference measured in the same run."""
import argparse
import json
import os
import pathlib
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

# glibc malloc settings for --keep-heap: never give freed memory back to the
# OS and serve buffers up to 32 MiB (glibc's maximum) from the heap rather than
# fresh mmaps.
KEEP_HEAP = "glibc.malloc.trim_threshold=4000000000:glibc.malloc.mmap_threshold=33554432"


def target_dir():
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def median_and_min_ms(call, iters):
    """Warms up once, then times `iters` calls; returns (median, min) in ms."""
    call()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0]


def fmt(median, best):
    return f"{median:.3f} ({best:.3f})"


def compare(binary, models, reference_name, reference_version, columns, reference_ms):
    """Parses the common options, builds wdq-bench, and prints one row per
    (model, thread count): the wdq binary's times beside `reference_ms(path,
    batch, threads, iters) -> (median, min)` and their ratios."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--models", nargs="+", default=models)
    ap.add_argument("--keep-heap", action="store_true",
                    help="run the wdq binary with glibc malloc told to keep freed memory "
                         "(no trimming, no per-buffer mmap): shows the page-fault share")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.keep_heap:
        env["GLIBC_TUNABLES"] = KEEP_HEAP
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "wdq-bench"], cwd=ROOT, check=True)
    exe = target_dir() / "release" / binary
    print(f"{reference_name} {reference_version}, batch {args.batch}, {args.iters} iterations, "
          f"load average {os.getloadavg()[0]:.2f}"
          + (", wdq with --keep-heap" if args.keep_heap else ""))
    print(f"medians (min in brackets), ms; ratio = wdq-exec / {reference_name} of the medians, "
          "min ratio = the same of the minimums (less sensitive to other load)")
    ours_col, theirs_col = columns
    print(f"{'model':<14} {'thr':>3} {'batch':>5} {ours_col:>18} {theirs_col:>18} {'ratio':>6} {'min ratio':>9}")
    for rel in args.models:
        path = ROOT / rel
        for threads in args.threads:
            out = subprocess.run([str(exe), str(path), str(args.batch), str(threads), str(args.iters)],
                                 check=True, capture_output=True, text=True, env=env).stdout
            ours = json.loads(out)
            theirs, theirs_min = reference_ms(path, args.batch, threads, args.iters)
            print(f"{path.stem:<14} {threads:>3} {args.batch:>5} {fmt(ours['median_ms'], ours['min_ms']):>18} "
                  f"{fmt(theirs, theirs_min):>18} {ours['median_ms'] / theirs:>6.2f} "
                  f"{ours['min_ms'] / theirs_min:>9.2f}", flush=True)

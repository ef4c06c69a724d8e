"""Time to accuracy: the wall-clock time of a whole `bakeoff train --recipe fast` command, from its start to
the moment it prints the test accuracy (Python start-up, imports and data loading included), per seed.

    python bench/time_to_accuracy.py --dataset fashion-mnist --data-dir ../shared/datasets --target 93 \
        --target-seconds 60
    python bench/time_to_accuracy.py --dataset fashion-mnist --data-dir ../shared/datasets --target 94 \
        --target-seconds 300
    python bench/time_to_accuracy.py --dataset mnist --data-dir ../shared/datasets --target 99.3 --target-seconds 30
    python bench/time_to_accuracy.py --dataset cifar10 --data-dir ../shared/datasets --target 94 --runs 1

Each run is a fresh process in a fresh output folder with seeds 0, 1, 2, ...; the command it runs is printed.
A target above the recipe's default needs a longer schedule: LONGER_SCHEDULES adds the flags used for it
(fixed in advance, the same for every seed; the test split is only scored, never used to choose).
The yardstick (bench/yardstick.py): this machine's bf16 matrix-product peak is measured before
the first run and after the last (about 2 s each), and every time is also given normalized to the 420 GFLOP/s
machine the documented times came from: seconds x peak / 420. Of the two measurements the larger counts:
other load only ever lowers a measurement, so the larger is nearer what the hardware does, and a run slowed by
load is then not excused by a lowered peak; when they differ by more than 10% the load changed during the
benchmark and a warning says so. Targets in seconds (--target-seconds, e.g. 60 for Fashion-MNIST 93%) are
met or missed by the normalized median.

Prints each run, the median and whether every run reached the target; --json PATH writes
{"dataset", "target", "runs": [{"seed", "seconds", "normalized_seconds", "test_acc"}], "median_seconds",
"normalized_median_seconds", "peak_bf16_gflops", "peak_measurements", "reached", "target_seconds",
"met_target_seconds", ...}; on a CPU without native bf16 the peak is fp32's, as "peak_fp32_gflops".
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bakeoff.engine.process import configure_process

configure_process()  # as the command line does, before torch loads: each run inherits these settings

from yardstick import describe, measure_yardstick, normalized_seconds, yardstick_fields
from results_file import write_json

# (dataset, target in percent) -> flags added to `--recipe fast` for targets its defaults do not reach.
LONGER_SCHEDULES = {
    # chosen as the most epochs of fast-net-s that fit in 300 s (then 22 s each; 14 fit now but scored lower on
    # validation, 94.05%); at 12 epochs validation accuracy was
    # 94.17% without augmentation and 94.15% with it, so the recipe's no-augmentation default stays. The recipe's
    # whitened stem was chosen at 4 epochs; at 12 it made no difference on validation (seed 0: 93.83% with it,
    # 93.82% without), so this schedule stays as it was measured, without it
    ("fashion-mnist", 94.0): ["--epochs", "12", "--no-whiten-stem"],
}
TEST_LINE = re.compile(r"test (\d+(?:\.\d+)?)% after")  # runs/grid.py's per-run line


def command(dataset: str, data_dir: str | None, target: float, seed: int, out: Path, extra: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "bakeoff", "train", "--recipe", "fast", "--dataset", dataset,
           "--seed", str(seed), "--out", str(out)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    return cmd + LONGER_SCHEDULES.get((dataset, target), []) + extra


def time_one(cmd: list[str]) -> tuple[float, float]:
    """(seconds until the test accuracy was printed, test accuracy as a fraction)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    seconds = acc = None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        match = TEST_LINE.search(line)
        if match and seconds is None:
            seconds, acc = time.perf_counter() - start, float(match.group(1)) / 100
    if proc.wait() != 0 or seconds is None:
        sys.exit(f"time_to_accuracy: the run failed:\n{''.join(lines[-20:])}")
    return seconds, acc


def larger_peak(before: dict, after: dict) -> dict:
    """The yardstick measured before and after the runs: the larger, with a warning when they differ by > 10%."""
    low, high = sorted((before["gflops"], after["gflops"]))
    if high > 1.1 * low:
        print(f"warning: the peak was {before['gflops']:.0f} GFLOP/s before the runs and {after['gflops']:.0f} "
              "after: other load on the machine; these times are suspect", flush=True)
    return max(before, after, key=lambda y: y["gflops"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="fashion-mnist, mnist, cifar10, ...")
    p.add_argument("--data-dir", help="where the dataset files are (as bakeoff's --data-dir)")
    p.add_argument("--target", type=float, required=True, help="test accuracy to reach, in percent (93 or 0.93)")
    p.add_argument("--runs", type=int, default=3, help="seeds 0..N-1, one fresh process each (default: 3)")
    p.add_argument("--target-seconds", type=float,
                   help="time target in seconds on the 420 GFLOP/s reference machine, met by the normalized "
                        "median, e.g. 60 (default: none, nothing judged)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("extra", nargs="*", help="more `bakeoff train` flags after --, e.g. -- --epochs 6")
    args = p.parse_args()
    target = args.target * 100 if args.target <= 1 else args.target

    before = measure_yardstick()
    print(f"yardstick before the runs: {describe(before)}", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bakeoff-tta-") as tmp:
        for seed in range(args.runs):
            cmd = command(args.dataset, args.data_dir, target, seed, Path(tmp) / f"seed{seed}", args.extra)
            print("$", " ".join(cmd[1:]).replace("-m bakeoff", "bakeoff"), flush=True)
            seconds, acc = time_one(cmd)
            runs.append({"seed": seed, "seconds": round(seconds, 2), "test_acc": acc})
            print(f"  seed {seed}: test {100 * acc:.2f}% in {seconds:.1f} s", flush=True)
    after = measure_yardstick()
    print(f"yardstick after the runs:  {describe(after)}", flush=True)
    peak = larger_peak(before, after)
    for r in runs:  # every run against the same peak: the larger of the two measurements
        r["normalized_seconds"] = round(normalized_seconds(r["seconds"], peak["gflops"]), 2)
        print(f"  seed {r['seed']}: {r['seconds']:.1f} s, normalized {r['normalized_seconds']:.1f} s")
    median = statistics.median(r["seconds"] for r in runs)
    normalized_median = normalized_seconds(median, peak["gflops"])
    reached = all(100 * r["test_acc"] >= target for r in runs)
    accs = ", ".join(f"{100 * r['test_acc']:.2f}%" for r in runs)
    verdict = "every run reached it" if reached else "NOT every run reached it"
    print(f"{args.dataset}: target {target:g}%: median {median:.1f} s, normalized {normalized_median:.1f} s "
          f"(peak {peak['gflops']:.0f} GFLOP/s {peak['precision']}) over {len(runs)} runs; {verdict} "
          f"(test accuracies {accs})")
    met_seconds = None
    if args.target_seconds is not None:
        met_seconds = normalized_median <= args.target_seconds
        print(f"time target {args.target_seconds:g} s on the reference machine: {'met' if met_seconds else 'NOT met'} "
              f"(normalized median {normalized_median:.1f} s); accuracy target: {verdict}")
    if args.json:
        result = {"dataset": args.dataset, "target": target / 100, "runs": runs, "median_seconds": median,
                  "normalized_median_seconds": round(normalized_median, 2),
                  **yardstick_fields(peak["gflops"], peak["precision"]),
                  "peak_measurements": [round(before["gflops"], 1), round(after["gflops"], 1)],
                  "peak_rule": "larger of the measurements before and after the runs",
                  "reached": reached, "target_seconds": args.target_seconds, "met_target_seconds": met_seconds,
                  "command": " ".join(command(args.dataset, args.data_dir, target, 0, Path("OUT"), args.extra)[1:]),
                  "cpus": os.cpu_count()}
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

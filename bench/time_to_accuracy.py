"""Time to accuracy: the wall-clock time of a whole `bakeoff train --recipe fast` command, from its start to
the moment it prints the test accuracy (Python start-up, imports and data loading included), per seed.

    python bench/time_to_accuracy.py --dataset fashion-mnist --data-dir ../shared/datasets --target 93 --runs 3
    python bench/time_to_accuracy.py --dataset fashion-mnist --data-dir ../shared/datasets --target 94 --runs 3
    python bench/time_to_accuracy.py --dataset mnist --data-dir ../shared/datasets --target 99.3 --runs 3
    python bench/time_to_accuracy.py --dataset cifar10 --data-dir ../shared/datasets --target 94 --runs 1

Each run is a fresh process in a fresh output folder with seeds 0, 1, 2, ...; the command it runs is printed.
A target above the recipe's default needs a longer schedule: LONGER_SCHEDULES adds the flags used for it
(fixed in advance, the same for every seed; the test split is only scored, never used to choose).
Prints each run, the median and whether every run reached the target; --json PATH writes
{"dataset", "target", "runs": [{"seed", "seconds", "test_acc"}], "median_seconds", "reached", ...}.
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
from results_file import write_json

# (dataset, target in percent) -> flags added to `--recipe fast` for targets its defaults do not reach.
LONGER_SCHEDULES = {
    # chosen as the most epochs of fast-net-s that fit in 300 s (then 22 s each; 14 fit now but scored lower on
    # validation, 94.05%); at 12 epochs validation accuracy was
    # 94.17% without augmentation and 94.15% with it, so the recipe's no-augmentation default stays
    ("fashion-mnist", 94.0): ["--epochs", "12"],
}
TEST_LINE = re.compile(r"test (\d+(?:\.\d+)?)% after")  # compare.py's per-run line


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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="fashion-mnist, mnist, cifar10, ...")
    p.add_argument("--data-dir", help="where the dataset files are (as bakeoff's --data-dir)")
    p.add_argument("--target", type=float, required=True, help="test accuracy to reach, in percent (93 or 0.93)")
    p.add_argument("--runs", type=int, default=3, help="seeds 0..N-1, one fresh process each (default: 3)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("extra", nargs="*", help="more `bakeoff train` flags after --, e.g. -- --epochs 6")
    args = p.parse_args()
    target = args.target * 100 if args.target <= 1 else args.target

    runs = []
    with tempfile.TemporaryDirectory(prefix="bakeoff-tta-") as tmp:
        for seed in range(args.runs):
            cmd = command(args.dataset, args.data_dir, target, seed, Path(tmp) / f"seed{seed}", args.extra)
            print("$", " ".join(cmd[1:]).replace("-m bakeoff", "bakeoff"), flush=True)
            seconds, acc = time_one(cmd)
            runs.append({"seed": seed, "seconds": round(seconds, 2), "test_acc": acc})
            print(f"  seed {seed}: test {100 * acc:.2f}% in {seconds:.1f} s", flush=True)
    median = statistics.median(r["seconds"] for r in runs)
    reached = all(100 * r["test_acc"] >= target for r in runs)
    accs = ", ".join(f"{100 * r['test_acc']:.2f}%" for r in runs)
    verdict = "every run reached it" if reached else "NOT every run reached it"
    print(f"{args.dataset}: target {target:g}%: median {median:.1f} s over {len(runs)} runs; {verdict} "
          f"(test accuracies {accs})")
    if args.json:
        result = {"dataset": args.dataset, "target": target / 100, "runs": runs, "median_seconds": median,
                  "reached": reached, "command": " ".join(command(args.dataset, args.data_dir, target, 0,
                                                                   Path("OUT"), args.extra)[1:]),
                  "cpus": os.cpu_count()}
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does keeping freed memory in the heap (src/bakeoff/engine/heap.py) speed up training steps, and what does
it cost in resident memory? Per model: milliseconds per training step and the process's resident memory
after the steps, with glibc's defaults and with the heap kept, each in a fresh process, alternated.

    python bench/heap_reuse.py --json bench/results/heap_reuse.json

A step here is bakeoff's fast path (channels-last, bf16 autocast where the CPU has it, fused optimizer,
gradients set to None) on random 28x28 images, at the batch size and optimizer each model is run with.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from results_file import write_json

# (model, batch size, optimizer): the Keras reference's settings, and the fast recipe's for fast-net-s
CASES = [("simple-cnn", 128, "adam"), ("cnn4", 128, "adam"), ("basic-cnn", 128, "adam"), ("fast-net-s", 512, "sgd")]


def worker(model_name: str, batch: int, optimizer: str, keep: bool, steps: int) -> None:
    """Runs in a fresh process: prints {"step_ms", "rss_mb"} as one JSON line."""
    from bakeoff.engine.heap import keep_freed_memory
    from bakeoff.engine.memory import rss_bytes
    from train_step import random_batch_step

    if keep and not keep_freed_memory():
        sys.exit("heap_reuse: this C library has no glibc malloc controls")
    step, x, y = random_batch_step(model_name, batch, optimizer)

    for _ in range(5):  # warm-up: oneDNN primitive caches, the heap's first growth
        step(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    step_ms = 1000 * (time.perf_counter() - start) / steps
    print(json.dumps({"step_ms": step_ms, "rss_mb": rss_bytes() / 2**20}))


def measure(model_name: str, batch: int, optimizer: str, keep: bool, steps: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", model_name, str(batch), optimizer, str(int(keep)), str(steps)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        name, batch, optimizer, keep, steps = sys.argv[2:7]
        worker(name, int(batch), optimizer, keep == "1", int(steps))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40, help="timed steps per process (default: 40)")
    p.add_argument("--repeats", type=int, default=2, help="processes per setting, alternated (default: 2)")
    p.add_argument("--models", help="comma-separated subset of " + ",".join(c[0] for c in CASES))
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    wanted = set(args.models.split(",")) if args.models else {c[0] for c in CASES}
    unknown = wanted - {c[0] for c in CASES}
    if unknown:
        sys.exit(f"heap_reuse: unknown model(s) {', '.join(sorted(unknown))}; choose from "
                 + ", ".join(c[0] for c in CASES))

    rows = []
    print(f"{'model':12} {'batch':>5}  {'default ms':>10} {'kept ms':>8} {'speed-up':>8}  "
          f"{'default MB':>10} {'kept MB':>8}")
    for name, batch, optimizer in (c for c in CASES if c[0] in wanted):
        runs = {False: [], True: []}
        for _ in range(args.repeats):
            for keep in (False, True):
                runs[keep].append(measure(name, batch, optimizer, keep, args.steps))
        row = {"model": name, "batch_size": batch, "optimizer": optimizer}
        for keep, label in ((False, "default"), (True, "kept")):
            row[f"{label}_step_ms"] = statistics.median(r["step_ms"] for r in runs[keep])
            row[f"{label}_rss_mb"] = statistics.median(r["rss_mb"] for r in runs[keep])
        row["speedup"] = row["default_step_ms"] / row["kept_step_ms"]
        rows.append(row)
        print(f"{name:12} {batch:>5}  {row['default_step_ms']:>10.1f} {row['kept_step_ms']:>8.1f} "
              f"{row['speedup']:>7.2f}x  {row['default_rss_mb']:>10.0f} {row['kept_rss_mb']:>8.0f}", flush=True)
    if args.json:
        write_json(args.json, {"models": rows, "steps": args.steps, "repeats": args.repeats})
    return 0


if __name__ == "__main__":
    sys.exit(main())

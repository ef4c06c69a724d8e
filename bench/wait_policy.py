"""How OpenMP's idle threads wait, and what it does to a training step: bakeoff's fast-path step (bench/train_step.py)
timed in fresh processes under each wait setting, alternated round by round.

    python bench/wait_policy.py --models basic-cnn,mlp,cnn4,fast-net-s
    python bench/wait_policy.py --models basic-cnn,mlp --busy   # beside another busy process

Between two parallel regions PyTorch's OpenMP threads either sleep at once (OMP_WAIT_POLICY=PASSIVE) or spin for
GOMP_SPINCOUNT iterations first (libgomp's default when no policy is set: 300,000). A step of many small operations
pays a wake-up at every one of them when its threads sleep; a thread that spins takes a core from any other busy
process. OpenMP reads these variables once, when torch loads, so every setting runs in a process of its own.
`--busy` keeps one single-threaded busy loop running throughout, standing in for another program on the machine.

Prints the median step per model and setting (ms, medians of the rounds) and its ratio to PASSIVE; --json PATH
writes {"busy", "rounds", "models": {model: {setting: {"step_ms", "vs_passive"}}}}.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from results_file import write_json

# A model's batch size and optimizer, as bakeoff trains it: the Keras comparison's batch 128 and Adam, and the
# fast recipe's batch 512 and SGD.
STEPS = {"fast-net-s": (512, "sgd"), "fast-net-xs": (512, "sgd"), "fast-net": (512, "sgd")}
DEFAULT_STEP = (128, "adam")


def settings(spin_counts: list[int]) -> dict[str, dict[str, str]]:
    """setting name -> the environment it sets (the other wait variables removed)."""
    out = {"PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"}}
    out.update({f"spin {n:,}": {"GOMP_SPINCOUNT": str(n)} for n in spin_counts})
    return out


def child(model_name: str, seconds: float) -> None:
    """Time the step in this process and print {"step_ms": median of five timed stretches}."""
    from bakeoff.engine.heap import keep_freed_memory
    from train_step import random_batch_step

    keep_freed_memory()
    step, x, y = random_batch_step(model_name, *STEPS.get(model_name, DEFAULT_STEP))
    for _ in range(3):
        step(x, y)
    start = time.perf_counter()
    step(x, y)
    per_stretch = max(3, int(seconds / 5 / (time.perf_counter() - start)))
    stretches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(per_stretch):
            step(x, y)
        stretches.append((time.perf_counter() - start) / per_stretch * 1000)
    print(json.dumps({"step_ms": statistics.median(stretches)}))


def time_in_fresh_process(model_name: str, env: dict[str, str], seconds: float) -> float:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run([sys.executable, __file__, "--child", model_name, "--seconds", str(seconds)],
                          capture_output=True, text=True, env={**base, **env})
    if done.returncode != 0:
        sys.exit(f"wait_policy: the step failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["step_ms"]


def spin_counts(text: str) -> list[int]:
    try:
        counts = [int(n) for n in text.split(",") if n]
    except ValueError:
        counts = []
    if not counts or min(counts) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers >= 0, comma-separated, e.g. 10000,300000")
    return counts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="basic-cnn,mlp,cnn4,fast-net-s")
    p.add_argument("--spin-counts", type=spin_counts, default="10000,100000,300000",
                   help="GOMP_SPINCOUNT values to try beside PASSIVE (default: 10000,100000,300000)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=4.0, help="timed seconds per process (default: 4)")
    p.add_argument("--busy", action="store_true", help="run one busy loop beside the steps throughout")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.seconds)
        return 0

    from bakeoff.models import list_models

    models = args.models.split(",")
    unknown = sorted(set(models) - set(list_models()))
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(list_models())}")
    envs = settings(args.spin_counts)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    times: dict[str, dict[str, list[float]]] = {m: {s: [] for s in envs} for m in models}
    try:
        for r in range(args.rounds):
            for model_name in models:
                for name, env in envs.items():
                    ms = time_in_fresh_process(model_name, env, args.seconds)
                    times[model_name][name].append(ms)
                    print(f"round {r + 1}: {model_name:12s} {name:14s} {ms:8.2f} ms", flush=True)
    finally:
        if busy:
            busy.kill()

    results = {"busy": args.busy, "rounds": args.rounds, "models": {}}
    print(f"\nmedian step of {args.rounds} rounds{' beside a busy process' if args.busy else ''}:")
    for model_name in models:
        passive = statistics.median(times[model_name]["PASSIVE"])
        row = {}
        for name in envs:
            ms = statistics.median(times[model_name][name])
            row[name] = {"step_ms": round(ms, 2), "vs_passive": round(passive / ms, 2)}
            print(f"  {model_name:12s} {name:14s} {ms:8.2f} ms  {passive / ms:5.2f}x PASSIVE's speed")
        results["models"][model_name] = row
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

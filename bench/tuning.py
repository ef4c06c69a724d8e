"""Measured: what `--tune N` buys over the default learning rate, per model (src/bakeoff/tuning.py).

For each model: N trials of Optuna TPE with median pruning on the validation split (seed --seed), then
the default configuration (Adam, lr 1e-3, no weight decay) and the tuned one trained as full runs, at the
tuning seed and at --check-seeds (another validation split and initialisation than tuning saw). Prints
the trials' spread (min / median / max validation accuracy of the finished trials, how many were pruned
or failed), the tuned lr and weight decay against the default, and validation and test accuracy of both.
Validation decides everything; the test split is only scored, after tuning.

    python bench/tuning.py --data-dir /work/shared/datasets --train-subset 5000 --epochs 3 --trials 12 \\
        --json bench/results/tuning.json

Trials and runs are kept under --out: a rerun reuses the trials and the finished runs.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

from bakeoff.engine.process import configure_process

configure_process()  # as the command line does: before torch loads

from bakeoff.config import RunConfig
from bakeoff.data import load_dataset
from bakeoff.store.runfolder import METRICS_FILE
from bakeoff.files import read_json
from bakeoff.runs.runner import PreparedData, execute_run
from bakeoff.runs.tuning import tune
from results_file import write_json


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="simple-cnn,cnn4", help="comma-separated (default: simple-cnn,cnn4)")
    p.add_argument("--dataset", default="fashion-mnist", help="default: fashion-mnist")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p.add_argument("--train-subset", type=int, default=5000, help="training images (default: 5000)")
    p.add_argument("--epochs", type=int, default=3, help="per trial and per run (default: 3)")
    p.add_argument("--trials", type=int, default=12, help="tuning trials per model (default: 12)")
    p.add_argument("--seed", type=int, default=0, help="tuning seed: sampler, split and weights (default: 0)")
    p.add_argument("--check-seeds", default="1", help="seeds tuning never saw, for default vs tuned (default: 1)")
    p.add_argument("--out", default="runs/bench-tuning", help="trials and run folders (default: runs/bench-tuning)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()

    start = time.perf_counter()
    load = os.getloadavg()
    data = PreparedData.from_dataset(load_dataset(args.dataset, args.data_dir))
    out = Path(args.out)
    seeds = [args.seed] + [int(s) for s in args.check_seeds.split(",") if s.strip()]
    results = []
    for model in args.models.split(","):
        cfg = RunConfig(dataset=args.dataset, data_dir=args.data_dir, train_subset=args.train_subset,
                        epochs=args.epochs, model=model, seed=args.seed)
        t0 = time.perf_counter()
        tuned = tune(cfg, data, args.trials, out)
        tune_seconds = time.perf_counter() - t0
        done = sorted(t["val_acc"] for t in tuned.trials if t["state"] == "complete") or [math.nan]
        states = [t["state"] for t in tuned.trials]
        runs = {}
        for seed in seeds:
            for label, run_cfg in (("default", cfg), ("tuned", tuned.apply(cfg))):
                run_cfg = RunConfig.from_dict({**run_cfg.to_dict(), "seed": seed})
                runs[f"{label} seed {seed}"] = _run(run_cfg, data, out / "runs" / label)
        results.append({
            "model": model, "trials": args.trials, "tune_seconds": tune_seconds,
            "trained_now": tuned.new_trials, "complete": len(done), "pruned": states.count("pruned"),
            "failed": states.count("failed"), "val_acc_min": done[0], "val_acc_median": statistics.median(done),
            "val_acc_max": done[-1], "best_trial": tuned.best_trial, "tuned": tuned.overrides,
            "default": {"lr": cfg.lr, "weight_decay": cfg.weight_decay},
            "runs": {k: {"val_acc": m["val_acc"], "test_acc": m["test_acc"], "seconds": m["train_seconds"]}
                     for k, m in runs.items()},
        })
        _print(results[-1:], args)  # after every model: a run cut short still shows what it measured
        if args.json:
            write_json(args.json, {"command": " ".join(sys.argv), "load_average_at_start": load,
                                   "seconds": time.perf_counter() - start, "results": results})
    print(f"\n{time.perf_counter() - start:.0f} s in all; load average at start {load[0]:.2f}, {os.cpu_count()} CPUs")
    return 0


def _run(cfg: RunConfig, data: PreparedData, parent: Path) -> dict:
    """A full run's metrics (validation chooses its epoch; test scored), reused when it finished before."""
    run_dir = parent / cfg.run_id
    metrics = read_json(run_dir / METRICS_FILE)
    if metrics and metrics.get("status") == "finished":
        return metrics
    return execute_run(cfg, data, run_dir, quiet=True)


def _print(results: list[dict], args) -> None:
    print(f"\n--tune {args.trials}, {args.dataset} subset {args.train_subset}, {args.epochs} epochs, "
          f"tuning seed {args.seed}")
    print(f"{'model':<12} {'trials (done/pruned/failed)':<28} {'val acc min / median / max':<28} "
          f"{'tuned lr':>9} {'tuned wd':>9} {'minutes':>8}")
    for r in results:
        spread = f"{100 * r['val_acc_min']:.2f} / {100 * r['val_acc_median']:.2f} / {100 * r['val_acc_max']:.2f}"
        counts = f"{r['complete']}/{r['pruned']}/{r['failed']}"
        print(f"{r['model']:<12} {counts:<28} {spread:<28} {r['tuned']['lr']:>9.2e} "
              f"{r['tuned']['weight_decay']:>9.1e} {r['tune_seconds'] / 60:>8.1f}")
    print(f"\n{'model':<12} {'run':<18} {'lr':>9} {'val acc':>8} {'test acc (only reported)':>25}")
    for r in results:
        for name, m in r["runs"].items():
            lr = r["tuned"]["lr"] if name.startswith("tuned") else r["default"]["lr"]
            print(f"{r['model']:<12} {name:<18} {lr:>9.2e} {100 * m['val_acc']:>7.2f}% {100 * m['test_acc']:>24.2f}%")


if __name__ == "__main__":
    sys.exit(main())

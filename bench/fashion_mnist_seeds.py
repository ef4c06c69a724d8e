"""Measured on real data: the seeds' Fashion-MNIST models trained by bakeoff, beside the seeds' numbers.

Trains, on the full Fashion-MNIST from ../shared/datasets (or --data-dir):
  simple-cnn on a 20,000-image subset, as seed 004 did (its test accuracy: 89.94%), with the
    seed's plain training (Adam 1e-3, no augmentation), with a cosine schedule, and with
    augmentation and a cosine schedule,
  cnn4 (seed 000's "CNN Model 1", 87.98%) and resnet20 (seed 003's ResNet family) on all 60,000
    (54,000 train / 6,000 validation),
then prints test accuracy and time per model and writes JSON with --json PATH. Validation
accuracy chooses the epoch whose weights are kept; the test split is only scored.

    python bench/fashion_mnist_seeds.py --data-dir ../shared/datasets --epochs 10 --json bench/results/fmnist.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bakeoff.engine.process import configure_process

configure_process()  # as the command line does: before torch loads

from bakeoff.runs.grid import run_grid
from bakeoff.config import GridConfig
from results_file import write_json
from bakeoff.models.options import grid_runs

SEED_NUMBERS = {"simple-cnn": ("seed 004", 0.8994), "cnn4": ("seed 000", 0.8798), "resnet20": ("seed 003 (CIFAR)", None)}
# (label, model, RunConfig overrides): the line-up measured.
ENTRIES = [
    ("simple-cnn (seed 004 setup)", "simple-cnn", {"train_subset": 20000}),
    ("simple-cnn + cosine schedule", "simple-cnn", {"train_subset": 20000, "schedule": "cosine"}),
    ("simple-cnn + augment, cosine", "simple-cnn", {"train_subset": 20000, "augment": True, "schedule": "cosine"}),
    ("cnn4", "cnn4", {}),
    ("resnet20", "resnet20", {}),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p.add_argument("--epochs", type=int, default=10, help="epochs per model (default: 10, as the seeds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="comma-separated models to run (default: all entries)")
    p.add_argument("--out", default="runs/bench-fashion-mnist", help="run folders (reruns skip finished runs)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()

    results = []
    for label, model, overrides in ENTRIES:
        if args.only and model not in args.only.split(","):
            continue
        overrides = dict(overrides)
        augment = overrides.pop("augment", False)
        grid = GridConfig(models=[model], seeds=[args.seed], augment=[augment],
                          base={"dataset": "fashion-mnist", "data_dir": args.data_dir, "epochs": args.epochs,
                                **overrides})
        out = Path(args.out)  # run ids differ (noaug / aug), so the entries share one folder
        start = time.perf_counter()
        run_grid(grid, out, quiet=True)
        wall = time.perf_counter() - start
        run_id = grid_runs(grid)[0].run_id
        m = json.loads((out / run_id / "metrics.json").read_text())
        seed_name, seed_acc = SEED_NUMBERS.get(model, ("", None))
        row = {"label": label, "model": model, "train_images": m["n_train"], "epochs": m["epochs_run"],
               "best_epoch": m["best_epoch"],
               "test_acc": m["test_acc"], "val_acc": m["val_acc"], "train_seconds": m["train_seconds"],
               "wall_seconds": wall, "images_per_s": m["images_per_s"], "precision": m["precision"],
               "seed_project": seed_name, "seed_test_acc": seed_acc, "seed": args.seed}
        results.append(row)
        seed_txt = f"{100 * seed_acc:.2f}%" if seed_acc else "n/a"
        print(f"{label:<30} train {m['n_train']:>6} imgs  test {100 * m['test_acc']:.2f}%  (seeds: {seed_txt})  "
              f"{m['train_seconds']:.0f} s train, {m['images_per_s']:.0f} img/s, {m['precision']}", flush=True)
    if args.json:
        write_json(args.json, {"dataset": "fashion-mnist", "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

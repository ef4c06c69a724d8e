"""Measured on real photos and small data: CNNs from scratch against ImageNet-pretrained efficientnet-lite0.

Three settings, each from ../shared/datasets (or --data-dir):
  clothing   clothing-photos: real garment photos, 10 classes, its own train/ and test/ folders
  cifar1k    CIFAR-10 with 1,000 training images (the 10,000 test images as always)
  cifar5k    CIFAR-10 with 5,000 training images
and in each the same entries:
  scratch, <model>   fast-net, cnn4 and resnet20 from random initialisation, with augmentation and a cosine
                     schedule (their best setting); the one with the best validation accuracy is marked
  lite0, head only   efficientnet-lite0 with ImageNet weights, --freeze backbone (the head on cached features)
  lite0, fine-tuned  the same head first, then --finetune-blocks 3 (stages 6-7 and the head conv) at lr x 0.1,
                     kept only where validation loss improves
Photos load at bakeoff's defaults: 64 px for the CNNs from scratch (the folder default), 160 px when ImageNet
weights are used; CIFAR stays 32 px and efficientnet-lite0 upsamples it to 128 inside the model.
Prints validation and test accuracy and time per entry; --json PATH writes them.

    python bench/real_photos.py --only clothing
    python bench/real_photos.py --only cifar5k --entry "lite0, head only" --json cifar5k.json
"""
from __future__ import annotations

from bakeoff.engine.process import configure_process

configure_process()  # as the command line does: before torch loads

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bakeoff.runs.grid import run_grid  # noqa: E402
from bakeoff.config import GridConfig  # noqa: E402
from results_file import write_json  # noqa: E402
from bakeoff.models.options import grid_runs

SETTINGS = {
    "clothing": {"dataset": "folder:{data}/clothing-photos"},
    "cifar1k": {"dataset": "cifar10", "data_dir": "{data}", "train_subset": 1000},
    "cifar5k": {"dataset": "cifar10", "data_dir": "{data}", "train_subset": 5000},
}
SCRATCH = {"augment": True, "schedule": "cosine", "epochs": 30}
ENTRIES = [  # (label, model, options)
    ("scratch, fast-net", "fast-net", SCRATCH),
    ("scratch, cnn4", "cnn4", SCRATCH),
    ("scratch, resnet20", "resnet20", SCRATCH),
    ("lite0, head only", "efficientnet-lite0", {"pretrained": "imagenet", "freeze": "backbone", "epochs": 15}),
    ("lite0, fine-tuned", "efficientnet-lite0", {"pretrained": "imagenet", "freeze": "backbone", "epochs": 10,
                                                 "finetune_blocks": 3, "backbone_lr_scale": 0.1}),
]


def run_entry(setting: str, label: str, model: str, options: dict, data: str, seed: int, out: Path) -> dict:
    base = {k: v.format(data=data) if isinstance(v, str) else v for k, v in SETTINGS[setting].items()}
    base.update({k: v for k, v in options.items() if k != "augment"})
    grid = GridConfig(models=[model], seeds=[seed], augment=[options.get("augment", False)], base=base)
    folder = out / setting / label.replace(", ", "_").replace(" ", "-")
    start = time.perf_counter()
    run_grid(grid, folder, quiet=True)
    wall = time.perf_counter() - start
    m = json.loads((folder / grid_runs(grid)[0].run_id / "metrics.json").read_text())
    return {"setting": setting, "label": label, "model": model, "seed": seed, "train_images": m["n_train"],
            "val_acc": m["val_acc"], "test_acc": m["test_acc"], "epochs_run": m["epochs_run"],
            "train_seconds": m["train_seconds"], "wall_seconds": wall, "precision": m["precision"],
            **{k: m[k] for k in ("finetune_kept", "feature_cache_seconds") if k in m}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p.add_argument("--only", action="append", choices=list(SETTINGS), help="a setting; repeat for more (default: all)")
    p.add_argument("--entry", action="append", choices=[e[0] for e in ENTRIES],
                   help="an entry; repeat for more (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench-real-photos", help="run folders (reruns skip finished runs)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    results = []
    for setting in args.only or list(SETTINGS):
        rows = []
        for label, model, options in ENTRIES:
            if args.entry and label not in args.entry:
                continue
            row = run_entry(setting, label, model, options, args.data_dir, args.seed, Path(args.out))
            rows.append(row)
            print(f"{setting:<9} {label:<20} {row['train_images']:>5} train imgs  val {100 * row['val_acc']:.2f}%  "
                  f"test {100 * row['test_acc']:.2f}%  {row['train_seconds']:.0f} s train, "
                  f"{row['wall_seconds']:.0f} s whole command", flush=True)
        scratch = [r for r in rows if r["label"].startswith("scratch")]
        if scratch:
            best = max(scratch, key=lambda r: r["val_acc"])  # chosen on validation, never on test
            best["best_scratch"] = True
            print(f"{setting:<9} best from scratch on validation: {best['model']}", flush=True)
        results += rows
    if args.json:
        write_json(args.json, {"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

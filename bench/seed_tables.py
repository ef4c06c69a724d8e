"""Measured on real data: every number the five student projects (../shared/seeds/000-004) report, beside bakeoff's.

Each seed row gets the closest bakeoff configuration (its model, its data, its epochs where the seed states them),
trained over --seeds through bakeoff.runs.grid.run_grid, one comparison folder per row (OUT/<row id>), and is printed
with the seed's own numbers beside bakeoff's mean ± std: test and validation accuracy, train accuracy and loss,
validation loss, training time, and the `bakeoff compare` command that measures the row alone. What a seed left
unstated is chosen once, in SETUP below, and every row lists the choices it depends on.

  000  Fashion-MNIST model comparison: "CNN Model 1" (cnn4); ResNet50 / VGG16 transfer (not measurable here)
  001  Fashion-MNIST autoencoder: the autoencoder, and its optimizer x learning-rate sweep as one compare grid
       (its report has the optimizer x lr heatmap and the significance section); VGG16 (not measurable here)
  002  overview slides: only the published ImageNet accuracies of VGG16 and ResNet50 (not measurable here)
  003  CIFAR-10 basic CNN, ResNet, ResNet + augmentation, each as the seed set it up and with a cosine schedule
       and augmentation; its MNIST CNN (the seed states no number); dog-breed transfer (no dataset here)
  004  simple-cnn on 20,000 Fashion-MNIST images, as the seed set it up and with a cosine schedule

Before a row trains, its cost is estimated from training speeds measured on this machine (THROUGHPUT_SHARED and
THROUGHPUT_IDLE below).
Rows that cannot be measured here print why and the command that would measure them.

    python bench/seed_tables.py --list                                   # rows, commands and costs; trains nothing
    python bench/seed_tables.py --only 004 --json bench/results/seed_tables_004.json
    python bench/seed_tables.py --epochs 1 --train-subset 1000 --seeds 0 --out runs/seed-tables-smoke   # minutes
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bakeoff.config import GridConfig  # the row table needs no torch: tests/test_seed_tables.py imports it

from seed_rows import (  # noqa: E402  (bench/ is the script's folder, as for results_file)
    ROOT, SETUP, SETUP_WHY, THROUGHPUT_SHARED, THROUGHPUT_IDLE, RUN_OVERHEAD_S, FULL_TRAIN, SCORED, SEED_METRIC_NAMES, Row, ROWS)



def row_options(row: Row, epochs: int | None, train_subset: int | None) -> dict:
    """SETUP, then the row's own options, then the scale overrides of a smoke run."""
    options = {**SETUP, **row.options}
    if epochs is not None:
        options["epochs"] = epochs
    if train_subset is not None:
        options["train_subset"] = train_subset
    return options


def grid_of(row: Row, options: dict, seeds: list[int], data_dir: str) -> GridConfig:
    options = dict(options)
    optimizers = row.sweep["optimizers"] if row.sweep else [options.pop("optimizer")]
    lrs = row.sweep["lrs"] if row.sweep else [options.pop("lr")]
    options.pop("optimizer", None), options.pop("lr", None)
    augment = options.pop("augment")
    base = {"dataset": row.dataset, "data_dir": data_dir, **options}
    return GridConfig(models=[row.model], optimizers=optimizers, lrs=lrs, augment=[augment], seeds=seeds, base=base)


def command(row: Row, options: dict, seeds: list[int], data_dir: str, out: Path) -> str:
    """The `bakeoff compare` line that trains the row alone, as run_grid is called here."""
    parts = ["bakeoff compare", f"--dataset {row.dataset}", f"--data-dir {_shown(data_dir)}", f"--models {row.model}"]
    if row.sweep:
        parts += [f"--optimizers {','.join(row.sweep['optimizers'])}",
                  f"--lrs {','.join(_lr(v) for v in row.sweep['lrs'])}"]
    else:
        parts += [f"--optimizers {options['optimizer']}"] if options["optimizer"] != "adam" else []
        parts += [f"--lrs {_lr(options['lr'])}"] if options["lr"] != 1e-3 else []
    for key, default in (("train_subset", None), ("val_fraction", 0.1), ("epochs", 10), ("batch_size", 128),
                         ("schedule", "none"), ("finetune_blocks", None), ("backbone_lr_scale", 0.1)):
        if options.get(key, default) != default:
            parts.append(f"--{key.replace('_', '-')} {options[key]:g}" if isinstance(options[key], float)
                         else f"--{key.replace('_', '-')} {options[key]}")
    parts += ["--augment"] if options["augment"] else []
    parts += [f"--seeds {','.join(map(str, seeds))}", "--no-robustness", f"--out {_shown(str(out))}"]
    return " ".join(parts)


def _lr(value: float) -> str:
    """1e-3 as written on a command line, not 0.001."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def _shown(path: str) -> str:
    """A path as README would write it: relative to the repository root where that is shorter."""
    rel = os.path.relpath(os.path.abspath(Path(path).expanduser()), ROOT)
    return rel if not rel.startswith(f"..{os.sep}..") else path  # ../shared/datasets, runs/...; not ../../tmp


def estimate_seconds(row: Row, options: dict, seeds: list[int], idle: bool = False) -> float | None:
    """Time to train the row: runs x (epochs x (training + validation images) / img/s + overhead); None if unknown."""
    speed = (THROUGHPUT_IDLE if idle else THROUGHPUT_SHARED).get((row.model, row.dataset))
    if speed is None:
        return None
    n = options.get("train_subset") or FULL_TRAIN[row.dataset]
    n_val = round(options["val_fraction"] * n)
    runs = len(seeds) * (len(row.sweep["optimizers"]) * len(row.sweep["lrs"]) if row.sweep else 1)
    return runs * (options["epochs"] * (n + n_val) / speed + RUN_OVERHEAD_S)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no speed measured for this model and dataset)"
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min" if seconds >= 90 \
        else f"{seconds:.0f} s"


def summarize(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "values": values}


def collect(grid: GridConfig, out: Path) -> tuple[dict[tuple[str, float], dict], list[str]]:
    """Per (optimizer, lr): each scored metric summarized over the seeds; and the failed runs' reasons."""
    from bakeoff.models.options import grid_runs  # the zoo loads torch; the row table must not

    cells: dict[tuple[str, float], dict[str, list[float]]] = {}
    failed = []
    for cfg in grid_runs(grid):
        m = json.loads((out / cfg.run_id / "metrics.json").read_text())
        if m.get("status") != "finished":
            failed.append(f"{cfg.run_id}: {m.get('reason', m.get('status'))}")
            continue
        cell = cells.setdefault((cfg.optimizer, cfg.lr), {k: [] for k in SCORED})
        for k in SCORED:
            if m.get(k) is not None:
                cell[k].append(m[k])
    return {key: {k: summarize(v) for k, v in cell.items() if v} for key, cell in cells.items()}, failed


def _fmt(metric: str, s: dict | None) -> str:
    if not s:
        return "—"
    if metric in ("train_seconds", "images_per_s"):
        return f"{s['mean']:.0f}" + (f" ± {s['std']:.0f}" if s["std"] is not None else "")
    scale, digits = (100, 2) if metric.endswith("acc") else (1, 4)
    return f"{scale * s['mean']:.{digits}f}" + (f" ± {scale * s['std']:.{digits}f}" if s["std"] is not None else "")


def _seed_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.2f}" if "acc" in metric or metric.startswith("imagenet") else f"{value:.4f}"


def print_scores(row: Row, scores: dict, n_seeds: int) -> None:
    print(f"  {'':<12} {'the seed':>10}   bakeoff (mean ± std over {n_seeds} seed{'s' * (n_seeds > 1)})")
    for metric in SCORED:
        print(f"  {SEED_METRIC_NAMES[metric]:<12} {_seed_value(metric, row.seed_numbers.get(metric)):>10}   "
              f"{_fmt(metric, scores.get(metric))}")


def print_sweep(cells: dict, sweep: dict) -> tuple[str, float]:
    """Validation (and test) accuracy per optimizer x lr, as the report's heatmap; returns the best cell by val."""
    print(f"  {'val / test %':<12}" + "".join(f"{'lr ' + _lr(lr):>22}" for lr in sweep["lrs"]))
    for opt in sweep["optimizers"]:
        line = f"  {opt:<12}"
        for lr in sweep["lrs"]:
            c = cells.get((opt, lr))
            line += f"{_fmt('val_acc', c.get('val_acc')) + ' / ' + format(100 * c['test_acc']['mean'], '.2f'):>22}" \
                if c and "val_acc" in c else f"{'failed':>22}"
        print(line)
    return max(cells, key=lambda k: _rank(cells[k]))


def _rank(cell: dict) -> tuple[float, float]:
    """As the leaderboard ranks rows, so the best cell here is the report's best: validation accuracy, then loss."""
    return cell.get("val_acc", {"mean": -1})["mean"], -cell.get("val_loss", {"mean": float("inf")})["mean"]


def run_row(row: Row, args, seeds: list[int]) -> dict:
    from bakeoff.models.options import grid_runs  # the zoo loads torch; the row table must not

    options = row_options(row, args.epochs, args.train_subset)
    out = Path(args.out) / row.id
    record = {"id": row.id, "seed_project": row.seed, "what": row.what, "form": row.form,
              "seed_numbers": row.seed_numbers, "choices": list(row.choices), "note": row.note}
    print(f"\n{row.id}  (seed {row.seed}, {row.form if row.measurable else 'not measurable'}): {row.what}")
    if not row.measurable:
        print(f"  not measurable here: {row.unmeasurable}")
        if row.would_measure:
            print(f"  would measure it: {row.would_measure}")
        return {**record, "measurable": False, "reason": row.unmeasurable, "would_measure": row.would_measure}
    grid = grid_of(row, options, seeds, args.data_dir)
    cmd = command(row, options, seeds, args.data_dir, out)
    estimate = estimate_seconds(row, options, seeds)
    idle = estimate_seconds(row, options, seeds, idle=True)
    print(f"  bakeoff: {row.model} on {row.dataset}, {_options_text(options, row.sweep)}")
    for choice in row.choices:
        print(f"  chosen: {choice}")
    if row.note:
        print(f"  note: {row.note}")
    print(f"  command: {cmd}")
    print(f"  estimated cost: {_duration(estimate)} for {len(grid_runs(grid))} run{'s' * (len(grid_runs(grid)) > 1)} on "
          f"this machine shared with another training job" + (f" ({_duration(idle)} idle)" if idle else ""), flush=True)
    record.update(measurable=True, model=row.model, dataset=row.dataset, options=options, seeds=seeds, command=cmd,
                  estimated_seconds=estimate, estimated_seconds_idle=idle)
    if args.list:
        return record
    from bakeoff.runs.grid import run_grid

    start = time.perf_counter()
    run_grid(grid, out, quiet=not args.progress, robustness=False)
    wall = time.perf_counter() - start
    cells, failed = collect(grid, out)
    for reason in failed:
        print(f"  FAILED {reason}")
    record.update(wall_seconds=wall, failed=failed, out=str(out))
    if row.sweep and cells:
        best = print_sweep(cells, row.sweep)
        print(f"  best by validation: {best[0]} at lr {_lr(best[1])}; heatmap and significance: {out / 'report.html'}")
        record["cells"] = [{"optimizer": o, "lr": lr, **cells[(o, lr)]} for o, lr in cells]
        record["best"] = {"optimizer": best[0], "lr": best[1]}
        scores = cells[best]
    else:
        scores = next(iter(cells.values()), {})
    print_scores(row, scores, len(seeds))
    print(f"  wall {wall:.0f} s (estimated {_duration(estimate)})", flush=True)
    return {**record, "scores": scores}


def _options_text(options: dict, sweep: dict | None) -> str:
    per_stage = "finetune_blocks" in options  # the autoencoder: each stage is that many epochs
    text = [f"{options['train_subset']:,} train images" if options.get("train_subset") else "all train images",
            f"{options['epochs']} epoch{'s' * (options['epochs'] != 1)}" + (" per stage" if per_stage else ""),
            f"{' x '.join(sweep['optimizers'])} x lr {' x '.join(map(_lr, sweep['lrs']))}" if sweep else
            f"{options['optimizer']} {_lr(options['lr'])}", f"batch {options['batch_size']}",
            f"{options['schedule']} schedule" if options["schedule"] != "none" else "constant lr",
            "augment" if options["augment"] else "no augmentation"]
    if options.get("finetune_blocks"):
        text.append(f"end to end after the frozen-encoder stage (--finetune-blocks {options['finetune_blocks']}, "
                    f"lr x {options['backbone_lr_scale']:g})")
    return ", ".join(text)


def selected(only: str | None) -> list[Row]:
    if not only:
        return ROWS
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    rows = [r for r in ROWS if r.seed in wanted or r.id in wanted]
    unknown = [w for w in wanted if not any(r.seed == w or r.id == w for r in ROWS)]
    if unknown:
        raise SystemExit(f"--only: unknown {', '.join(unknown)}; choose seeds 000-004 or rows: "
                         f"{', '.join(r.id for r in ROWS)}")
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma list of seeds (000,003) or row ids to run (default: every row)")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"),
                   help="folder holding the datasets (default: ../shared/datasets beside the repository)")
    p.add_argument("--out", default="runs/seed-tables",
                   help="a comparison folder per row under it; reruns skip finished runs (default: runs/seed-tables)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default: 0,1,2)")
    p.add_argument("--epochs", type=int, help="override every row's epochs, for a smoke run (default: each row's)")
    p.add_argument("--train-subset", type=int, help="override every row's training images, for a smoke run "
                                                    "(default: each row's, mostly all)")
    p.add_argument("--list", action="store_true", help="print rows, commands and estimated costs; train nothing")
    p.add_argument("--progress", action="store_true", help="show bakeoff's own per-epoch lines (default: off)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    from bakeoff.engine.process import configure_process

    configure_process()  # as the command line does: before torch loads (run_row imports it)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = selected(args.only)
    total = sum(estimate_seconds(r, row_options(r, args.epochs, args.train_subset), seeds) or 0
                for r in rows if r.measurable)
    print(f"{len(rows)} row{'s' * (len(rows) != 1)}, {sum(r.measurable for r in rows)} measurable here; estimated cost {_duration(total)} "
          f"on this machine shared with another training job (seeds {args.seeds}).\n"
          f"Unstated by the seeds, chosen once: {SETUP_WHY}.")
    results = [run_row(row, args, seeds) for row in rows]
    if args.json:
        from results_file import write_json

        write_json(args.json, {"setup": SETUP, "seeds": seeds, "epochs_override": args.epochs,
                               "train_subset_override": args.train_subset, "rows": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())

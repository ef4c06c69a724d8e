"""Expand a grid into runs, run the ones not yet finished, and collect the leaderboard."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

from rich.console import Console

from .config import GridConfig, RunConfig
from .data import load_dataset, train_val_split
from .errors import BakeoffError
from .leaderboard import build_leaderboard, print_leaderboard, write_leaderboard
from .executors import LocalExecutor
from .runlock import disk_errors, run_lock
from .models.pretrained import check_sources
from .runfolder import read_config, read_status, versions, write_json
from .runner import PreparedData

LOCK_FILE = ".lock"


def is_done(cfg: RunConfig, run_dir: Path) -> bool:
    """A run is skipped when it finished (or diverged) under exactly the same configuration."""
    status = read_status(run_dir)
    if status is None or status.get("status") not in ("finished", "failed"):
        return False
    try:
        saved = RunConfig.from_dict(read_config(run_dir) or {})
    except (BakeoffError, TypeError):
        return False
    return saved.to_dict() == cfg.to_dict()  # via RunConfig: options added later take their defaults


def run_grid(grid: GridConfig, out: Path, quiet: bool = False, console: Console | None = None,
             executor=None, real_photos: str | None = None, class_map: str | None = None) -> list[dict]:
    """Run every run of the grid not already done; write and return the leaderboard rows.

    Runs another process is training (same OUT) are left to it and waited for at the end.
    `executor` (default: this process) trains the runs that are left; see executors.py.
    `real_photos`: a folder of class folders of real photos every finished run is scored on afterwards, as
    `predict` would see them (`class_map`: 'FOLDER=CLASS,...' for names that do not match; serve/real_photos.py).
    Raises `Interrupted` on SIGINT/SIGTERM (inside `interrupt.graceful_signals()`), the current run
    saved for resuming.
    """
    console = console or Console(stderr=True, quiet=quiet, soft_wrap=True)
    runs = grid.runs()  # validates every configuration before any work starts
    for cfg in runs:
        check_sources(cfg)  # and the files they name
    first = runs[0]
    with disk_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        ds = load_dataset(first.dataset, data_dir=first.data_dir, img_size=first.img_size, quiet=quiet)
        train_val_split(ds.y_train, first.val_fraction, first.seed, first.train_subset)  # fail now, not mid-grid
        console.print(f"dataset {ds.name}: {len(ds.y_train)} train / {len(ds.y_test)} test images, "
                      f"{ds.in_chans}x{ds.img_size}x{ds.img_size}, {ds.num_classes} classes ({ds.source})")
        if real_photos is not None:  # a bad folder or --class-map fails now, before any training
            from .serve.real_photos import labelled_photos, parse_class_map

            labelled_photos(real_photos, ds.classes, parse_class_map(class_map))
        data = PreparedData.from_dataset(ds)
        write_json(out / "grid.json", {"grid": _grid_dict(grid), "dataset": ds.summary(), "versions": versions()})
        elsewhere: list[Path] = []
        with contextlib.ExitStack() as locks:  # each run this process claims stays locked until the grid ends
            claims = _claim(runs, out, locks, elsewhere, console)
            for cfg, metrics in (executor or LocalExecutor()).run(claims, data, out, quiet):
                resumed = metrics.get("resumed_from_epoch")
                note = f" (resumed after epoch {resumed})" if resumed else ""
                console.print(f"{cfg.run_id}: {_one_line(metrics)}{note}")
        for run_dir in elsewhere:
            with run_lock(run_dir / LOCK_FILE, wait=True):
                pass
        if real_photos is not None:
            from .serve.real_photos import score_comparison

            score_comparison([out / cfg.run_id for cfg in runs], real_photos, class_map, ds.classes, console.print)
        results = [(cfg.to_dict(), read_status(out / cfg.run_id) or {"status": "missing", "seed": cfg.seed,
                                                                      "reason": "did not finish"})
                   for cfg in runs]
        rows = build_leaderboard(results)
        with run_lock(out / LOCK_FILE, wait=True):  # one leaderboard writer at a time
            write_leaderboard(rows, out)
        elapsed = time.perf_counter() - start
        from .report import build_report  # late: matplotlib loads only when a report is written

        report = build_report(out, dataset=ds)
    console.print(f"{len(runs)} runs in {elapsed:.1f} s; leaderboard in {out}/leaderboard.csv, report in {report}")
    return rows


def _claim(runs: list[RunConfig], out: Path, locks: contextlib.ExitStack, elsewhere: list[Path], console):
    """Yield the runs this process should train, locking each as it is reached.

    Lazily: with the local executor a second process on the same OUT claims the runs this one has
    not reached yet, so two processes share a grid. Runs another process holds go to `elsewhere`.
    """
    for i, cfg in enumerate(runs, 1):
        run_dir, tag = out / cfg.run_id, f"[{i}/{len(runs)}] {cfg.run_id}"
        if is_done(cfg, run_dir):
            console.print(f"{tag}: already done, skipped")
        elif not locks.enter_context(run_lock(run_dir / LOCK_FILE)):
            console.print(f"{tag}: another process is training it; will wait for it at the end")
            elsewhere.append(run_dir)
        elif is_done(cfg, run_dir):  # finished by another process since the first check
            console.print(f"{tag}: already done, skipped")
        else:
            yield cfg


def _one_line(m: dict) -> str:
    if m["status"] != "finished":
        return f"FAILED: {m['reason']}"
    val = f"val {100 * m['val_acc']:.2f}%" if m.get("val_acc") is not None else "no val"
    return (f"{val}, test {100 * m['test_acc']:.2f}% after {m['epochs_run']} epochs "
            f"({m['train_seconds']:.1f} s, {m['images_per_s']:.0f} img/s)")


def _grid_dict(grid: GridConfig) -> dict:
    return {"models": grid.models, "optimizers": grid.optimizers, "lrs": grid.lrs, "augment": grid.augment,
            "seeds": grid.seeds, **grid.base}


__all__ = ["run_grid", "is_done", "print_leaderboard"]

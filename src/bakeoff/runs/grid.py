"""Expand a grid into runs, run the ones not yet finished, and collect the leaderboard."""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from ..analysis.finished import analyse_runs, write_cams
from ..analysis.real_photos import score_comparison
from ..config import GridConfig, RunConfig
from ..data import load_dataset, train_val_split
from ..data.photos.folders import labelled_photos, parse_class_map
from ..data.photos.training import check_photo_folders
from ..errors import ConfigError
from ..files import disk_errors, read_json, write_json
from ..models.options import check_memory, grid_runs
from ..models.pretrained import check_sources
from ..report import build_report
from ..store.leaderboard import build_leaderboard, print_leaderboard, write_leaderboard
from ..store.locks import run_lock
from ..store.matching import same_run
from ..store.record import comparison_record
from ..store.runfolder import GRID_FILE, read_config, read_status, versions
from .executors import LocalExecutor
from .progress import GridProgress
from .runner import PreparedData

LOCK_FILE = ".lock"


def is_done(cfg: RunConfig, run_dir: Path) -> bool:
    """A run is skipped when it finished (or diverged) under exactly the same configuration."""
    status = read_status(run_dir)
    if status is None or status.get("status") not in ("finished", "failed"):
        return False
    return same_run(read_config(run_dir), cfg)  # normalized: `data/` and `data` are one folder


def run_grid(grid: GridConfig, out: Path, quiet: bool = False, console: Console | None = None,
             executor=None,
             robustness: bool = True) -> list[dict]:
    """Run every run of the grid not already done; write and return the leaderboard rows.

    Runs another process is training (same OUT) are left to it and waited for at the end; one it did not
    finish, or finished under other settings, is then trained here (`_after_waiting`).
    `executor` (default: this process) trains the runs that are left; see runs/executors.py.
    `grid.real_photos`: a folder of class folders of real photos every finished run is scored on afterwards, as
    `predict` would see them (`grid.class_map`: 'FOLDER=CLASS,...' for names that do not match;
    analysis/real_photos.py).
    Then every finished run gets its calibration and (unless `robustness` is False) robustness numbers, and
    the comparison its Grad-CAM maps (analysis/finished.py): measured once, kept in the run folders.
    Raises `Interrupted` on SIGINT/SIGTERM (inside `interrupt.graceful_signals()`), the current run
    saved for resuming.
    """
    console = console or Console(stderr=True, quiet=quiet, soft_wrap=True)
    runs = grid_runs(grid)  # validates every configuration before any work starts
    real_photos, class_map = grid.real_photos, grid.class_map
    for cfg in runs:
        check_sources(cfg)  # and the files they name
    first = runs[0]
    if real_photos is not None and not Path(real_photos).expanduser().is_dir():  # before OUT is made
        raise ConfigError(f"--real-photos: {real_photos} is not a folder (give a folder of class folders of photos)")
    if first.train_photos is not None and not Path(first.train_photos).expanduser().is_dir():
        raise ConfigError(f"--train-photos: {first.train_photos} is not a folder (give a folder of class folders "
                          f"of labelled photos)")
    with disk_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        ds = load_dataset(first.dataset, data_dir=first.data_dir, img_size=first.img_size, quiet=quiet)
        train_val_split(ds.y_train, first.val_fraction, first.seed, first.train_subset,  # fail now, not mid-grid
                        first.folds, first.fold)
        console.print(f"dataset {ds.name}: {len(ds.y_train)} train / {len(ds.y_test)} test images, "
                      f"{ds.in_chans}x{ds.img_size}x{ds.img_size}, {ds.num_classes} classes ({ds.source})")
        check_memory(runs, ds.in_chans, ds.img_size, ds.num_classes)  # a dense layer grown with the image
        if real_photos is not None:  # a bad folder or --class-map fails now, before any training
            labelled_photos(real_photos, ds.classes, parse_class_map(class_map))
        if first.train_photos is not None:  # and photos to train on that are also scored
            check_photo_folders(first.train_photos, first.photo_class_map, ds.classes, real_photos, console.print)
        data = PreparedData.from_dataset(ds)
        grid_json = {"grid": grid.to_dict(), "dataset": ds.summary(), "versions": versions(),
                     "record": comparison_record()}
        if any(cfg.tune for cfg in runs):
            runs = _tuned(runs, data, out, console)
            grid_json["runs"] = [cfg.to_dict() for cfg in runs]  # tuned values are not the grid's: list them
        if not (out / GRID_FILE).is_file():  # a first, interrupted compare can still be reported
            write_json(out / GRID_FILE, grid_json)
        elsewhere: list[RunConfig] = []
        executor = executor or LocalExecutor()
        to_train = sum(not is_done(c, out / c.run_id) for c in runs)
        progress = GridProgress(len(runs), to_train, console.print)
        with contextlib.ExitStack() as locks:  # each run this process claims stays locked until they are done
            _train(executor, progress.announce(_claim(runs, out, locks, elsewhere, console), runs), data, out, quiet,
                   console, progress)
        # then, holding no lock (two processes waiting on each other's runs must not deadlock):
        _train(executor, progress.announce(_after_waiting(elsewhere, out, console), runs), data, out,
               quiet, console, progress)
        # Only now: an interrupted compare leaves the earlier grid.json, and the runs it names, to `report`.
        # A rerun that trained nothing keeps the record of the compare that did (and the report stays current).
        if to_train or not _same_grid_json(out / GRID_FILE, grid_json):
            write_json(out / GRID_FILE, grid_json)
        if real_photos is not None:
            score_comparison([out / cfg.run_id for cfg in runs], real_photos, class_map, ds.classes, console.print)

        analyse_runs([out / cfg.run_id for cfg in runs], ds, robustness=robustness, say=console.print)
        results = [(cfg.to_dict(), {**(read_status(out / cfg.run_id) or {"status": "missing",
                                                                        "reason": "did not finish"}),
                                    "seed": cfg.seed}) for cfg in runs]
        rows = build_leaderboard(results)
        with run_lock(out / LOCK_FILE, wait=True):  # one leaderboard writer at a time
            write_leaderboard(rows, out)
        write_cams(out, ds, say=console.print)  # after the leaderboard: it picks the best and runner-up
        elapsed = time.perf_counter() - start

        report = build_report(out, dataset=ds, only_if_changed=True)  # kept when nothing it shows changed
    console.print(f"{len(runs)} runs in {elapsed:.1f} s; leaderboard in {out}/leaderboard.csv, report in {report}")
    return rows


def _same_grid_json(path: Path, grid_json: dict) -> bool:
    """Whether grid.json already says all of `grid_json` but its record (command, load, start time)."""
    saved = read_json(path)
    if saved is None:
        return False
    now = json.loads(json.dumps(grid_json))  # as it would read back: tuples as lists
    return {k: v for k, v in saved.items() if k != "record"} == {k: v for k, v in now.items() if k != "record"}


def _tuned(runs: list[RunConfig], data: PreparedData, out: Path, console) -> list[RunConfig]:
    """--tune N: each leaderboard row's hyperparameters searched once, at the grid's first seed (and fold), on
    validation only (runs/tuning.py); every seed of the row then trains with the best trial's values."""
    from .tuning import tune  # late: Optuna (about a second to import) loads only for a grid that tunes

    first_seed = {}
    for cfg in runs:
        first_seed.setdefault(cfg.row_id, cfg.seed)
    found = {}
    for cfg in runs:
        if cfg.tune and cfg.row_id not in found:
            at = replace(cfg, seed=first_seed[cfg.row_id], fold=0)
            found[cfg.row_id] = tune(at, data, cfg.tune, out, console.print)
            console.print(f"tune {cfg.row_id}: best of {cfg.tune} trials {found[cfg.row_id].overrides}")
    return [found[cfg.row_id].apply(cfg) if cfg.tune else cfg for cfg in runs]


def _claim(runs: list[RunConfig], out: Path, locks: contextlib.ExitStack, elsewhere: list[RunConfig], console):
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
            elsewhere.append(cfg)
        elif is_done(cfg, run_dir):  # finished by another process since the first check
            console.print(f"{tag}: already done, skipped")
        else:
            yield cfg


def _after_waiting(waited: list[RunConfig], out: Path, console):
    """Yield the runs another process held when reached that are still not this grid's result once it let go.

    The other process may have been killed (its lock goes with it) or have trained the run under other
    settings (another --epochs): this process then takes the lock and trains its own, never reporting
    another's result as its own. Each lock is held while its run trains and released before waiting on the
    next (the local executor trains a run before asking for the next one; Ray submits them all at once).
    """
    for cfg in waited:
        run_dir = out / cfg.run_id
        with run_lock(run_dir / LOCK_FILE, wait=True):
            if is_done(cfg, run_dir):
                continue
            status = read_status(run_dir)
            why = ("finished under other settings" if status and status.get("status") in ("finished", "failed")
                   else "stopped before the end")
            console.print(f"{cfg.run_id}: the other process's run {why}; training it here")
            yield cfg


def _train(executor, claims, data: PreparedData, out: Path, quiet: bool, console,
           progress: GridProgress | None = None) -> None:
    for cfg, metrics in executor.run(claims, data, out, quiet):
        if progress is not None:
            progress.done()
        resumed = metrics.get("resumed_from_epoch")
        note = f" (resumed after epoch {resumed})" if resumed else ""
        console.print(f"{cfg.run_id}: {_one_line(metrics)}{note}")


def _one_line(m: dict) -> str:
    if m["status"] != "finished":
        return f"FAILED: {m['reason']}"
    val = f"val {100 * m['val_acc']:.2f}%" if m.get("val_acc") is not None else "no val"
    return (f"{val}, test {100 * m['test_acc']:.2f}% after {m['epochs_run']} epochs "
            f"({m['train_seconds']:.1f} s, {m['images_per_s']:.0f} img/s)")


__all__ = ["run_grid", "is_done", "print_leaderboard"]

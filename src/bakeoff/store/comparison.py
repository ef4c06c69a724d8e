"""Read a comparison folder (grid.json and its run folders) into plain data, without retraining anything."""
from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import files
from ..config import GRID_AXES, GridConfig, RunConfig
from ..data import load_dataset
from ..errors import BakeoffError, one_line
from ..models.options import grid_runs
from . import runfolder
from .leaderboard import build_leaderboard, row_key
from .matching import same_run
from .runfolder import GRID_FILE

# What reading a damaged .npz raises: np.load's errors, and zipfile's and zlib's for a truncated archive
UNREADABLE_NPZ = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


@dataclass
class Run:
    """One run folder: its resolved config, final metrics, per-epoch history and (lazily) test predictions."""

    run_id: str
    dir: Path
    config: dict
    metrics: dict  # metrics.json; status 'finished', 'failed', 'interrupted', or 'missing' (no metrics.json)
    history: list[dict]  # history.csv rows: numbers as floats (None where empty or NaN), the stage as text
    _predictions: dict | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.metrics.get("status") == "finished"

    @cached_property
    def key(self) -> str:
        """The leaderboard row this run is a replicate of (its config validated once, not per lookup)."""
        return row_key(self.config)

    def predictions(self) -> dict[str, np.ndarray]:
        """y_true, y_pred (N,), probs (N, K), loss (N,) in test-set order, read once."""
        if self._predictions is None:
            path = self.dir / runfolder.PREDICTIONS_FILE
            try:
                self._predictions = files.read_arrays(path, runfolder.PREDICTION_KEYS)
            except UNREADABLE_NPZ as e:
                raise BakeoffError(f"{path}: unreadable predictions ({e})") from None
        return self._predictions

    def correct(self) -> np.ndarray:
        """(N,) bool: which test images this run classifies correctly."""
        p = self.predictions()
        return p["y_pred"] == p["y_true"]


@dataclass
class Comparison:
    """Everything a report shows, read from OUT alone."""

    out: Path
    grid: dict  # grid.json "grid": the axes and the shared options as given
    dataset: dict  # grid.json "dataset": name, classes, n_train, n_test, shape, source
    versions: dict
    runs: list[Run]  # in grid order (model-major)
    rows: list[dict]  # leaderboard rows, best validation accuracy first (the same function wrote leaderboard.csv)
    record: dict = field(default_factory=dict)  # grid.json "record": command, CPU, load at start (store/record.py)
    strays: list[str] = field(default_factory=list)  # run folders in OUT that its grid.json does not name

    @property
    def classes(self) -> list[str]:
        return self.dataset["classes"]

    def runs_of(self, row: dict) -> list[Run]:
        """Every run (finished or not) of a leaderboard row, one per seed."""
        key = row_key(row)
        return [r for r in self.runs if r.key == key]

    def finished_runs_of(self, row: dict) -> list[Run]:
        return [r for r in self.runs_of(row) if r.finished]

    def representative(self, row: dict, seed: int | None = None) -> Run | None:
        """The run shown for a row: the given seed if it finished, else the seed with the best validation accuracy."""
        done = self.finished_runs_of(row)
        if seed is not None:
            same = [r for r in done if r.config["seed"] == seed]
            if same:
                return same[0]
        if not done:
            return None
        return max(done, key=lambda r: (_num(r.metrics.get("val_acc")), -r.config["seed"]))

    @property
    def finished_rows(self) -> list[dict]:
        return [r for r in self.rows if r.get("n_seeds", 0) > 0]

    @property
    def failed_runs(self) -> list[Run]:
        return [r for r in self.runs if not r.finished]

    def swept(self, axis: str) -> bool:
        """Whether the grid took more than one value on an axis (models, optimizers, lrs, augment, seeds)."""
        return len(self.grid.get(axis, [])) > 1


def collect(out: str | Path) -> Comparison:
    """Read OUT/grid.json and every run folder the grid names; runs that never finished count as failed.

    Nothing outside OUT is opened: the run configs are rebuilt from grid.json (validation reads no file),
    so a comparison copied elsewhere, or whose --pretrained source is gone, is reported the same.
    """
    out = Path(out)
    grid_file = out / GRID_FILE
    if not grid_file.is_file():
        raise BakeoffError(f"{out}: no {GRID_FILE} here, so not a bakeoff comparison folder "
                           f"(`bakeoff compare --out {out}` makes one)")
    saved = files.read_json(grid_file)
    if not (saved and isinstance(saved.get("grid"), dict) and isinstance(saved.get("dataset"), dict)):
        raise BakeoffError(f"{grid_file}: not a bakeoff {GRID_FILE} (unreadable, or no 'grid' and 'dataset' in it)")
    grid, dataset = saved["grid"], saved["dataset"]
    known = set(GRID_AXES) | {f.name for f in fields(RunConfig)}  # an option a later version dropped must not stop it
    if isinstance(saved.get("runs"), list):  # a merged comparison (runs/merge.py) lists its runs' configs
        configs = [RunConfig.from_dict({k: v for k, v in c.items() if k in known}) for c in saved["runs"]]
    else:
        configs = grid_runs(GridConfig.from_options({k: v for k, v in grid.items() if k in known}))
    runs = []
    for cfg in configs:
        runs.append(_read_run(out / cfg.run_id, cfg, len(dataset.get("classes") or ())))
    rows = build_leaderboard([(r.config, r.metrics) for r in runs])
    record = saved.get("record") if isinstance(saved.get("record"), dict) else {}
    named = {r.run_id for r in runs}
    strays = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name not in named
                    and (p / runfolder.CONFIG_FILE).is_file())
    return Comparison(out=out, grid=grid, dataset=dataset, versions=saved.get("versions", {}), runs=runs, rows=rows,
                      record=record, strays=strays)


def _read_run(run_dir: Path, cfg: RunConfig, num_classes: int) -> Run:
    """A run folder as the report may show it: one that does not match the grid, or whose files are damaged,
    is listed with the reason (never drawn from, never a traceback)."""
    expected = cfg.to_dict()
    saved = runfolder.read_config(run_dir)
    config = saved if same_run(saved, cfg) else expected
    metrics = runfolder.read_status(run_dir)
    run = Run(run_id=run_dir.name, dir=run_dir, config=config, metrics=metrics or {},
              history=runfolder.read_history(run_dir))
    if metrics is None or "status" not in metrics:
        reason = f"never finished (no {runfolder.METRICS_FILE}: stopped, or not run yet)"
        run.metrics = {"status": "missing", "reason": reason, "seed": expected["seed"], "run_id": run_dir.name}
    elif metrics["status"] != "finished":
        run.metrics = {**metrics, "seed": expected["seed"]}
    elif saved is not None and config is not saved:
        run.metrics = _not_shown(metrics, expected, f"its {runfolder.CONFIG_FILE} is not this grid's run "
                                                   f"(trained under other settings)")
    elif not (run_dir / runfolder.PREDICTIONS_FILE).is_file():
        run.metrics = _not_shown(metrics, expected, f"{runfolder.PREDICTIONS_FILE} is missing")
    else:
        try:
            check_predictions(run.predictions(), num_classes, metrics.get("n_test"))
        except (BakeoffError, ValueError) as e:
            run._predictions = None
            run.metrics = _not_shown(metrics, expected, one_line(e, limit=300))
    return run


def _not_shown(metrics: dict, expected: dict, reason: str) -> dict:
    return {**metrics, "status": "damaged", "reason": reason, "seed": expected["seed"]}


def check_predictions(p: dict[str, np.ndarray], num_classes: int, n_test) -> None:
    """ValueError naming what is wrong when predictions.npz does not hold (N,) labels and predictions in
    0..K-1, (N, K) probabilities and (N,) losses for this dataset's K classes."""
    y_true, y_pred, probs, loss = (p[k] for k in runfolder.PREDICTION_KEYS)
    n = len(y_true) if y_true.ndim == 1 else -1
    if n < 1 or y_pred.shape != (n,) or loss.shape != (n,) or probs.shape != (n, num_classes):
        raise ValueError(f"{runfolder.PREDICTIONS_FILE} has arrays of shapes y_true {y_true.shape}, y_pred "
                         f"{y_pred.shape}, probs {probs.shape}, loss {loss.shape}; expected (N,), (N,), "
                         f"(N, {num_classes}), (N,)")
    if isinstance(n_test, int) and n != n_test:
        raise ValueError(f"{runfolder.PREDICTIONS_FILE} holds {n} test images, metrics.json says {n_test}")
    for key, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= num_classes:
            raise ValueError(f"{runfolder.PREDICTIONS_FILE}: {key} are not class indices 0..{num_classes - 1}")
    if probs.dtype.kind != "f" or loss.dtype.kind != "f":
        raise ValueError(f"{runfolder.PREDICTIONS_FILE}: probs and loss must be floating point")


def _num(v) -> float:
    return -math.inf if v is None else v


def reload_dataset(cmp: Comparison, dataset=None):
    """The comparison's dataset, for the image grids: (Dataset, "") or (None, why it is not shown).

    Loaded as the runs loaded it (name, data_dir, img_size from config.json), never
    downloaded, and checked against predictions.npz so the images match the rows.
    """
    done = [r for r in cmp.runs if r.finished]
    if not done:
        return None, "no run finished, so there are no predictions to show"
    cfg = done[0].config
    if dataset is None:
        try:
            dataset = load_dataset(cfg["dataset"], data_dir=cfg.get("data_dir"), img_size=cfg.get("img_size"),
                                   download=False, quiet=True)
        except (BakeoffError, OSError) as e:
            return None, f"the dataset could not be loaded again ({str(e).splitlines()[0][:300]}), so image grids are left out"
    y_true = done[0].predictions()["y_true"]
    if dataset.y_test.numel() != len(y_true) or not np.array_equal(dataset.y_test.numpy(), y_true):
        return None, (f"the test split loaded now ({dataset.y_test.numel()} images) does not match the runs' "
                      f"predictions ({len(y_true)} images), so image grids are left out")
    return dataset, ""

"""Why one model beats another, measured on finished runs from their best.pt: calibration, robustness, Grad-CAM.

Runs after training (compare calls it once every run of the grid is done), so it never slows or changes a
training, a later `compare` fills in what an earlier one skipped (--no-robustness) without retraining, and
every number comes from the checkpoint that `predict` and `serve` load:

  calibration   temperature scaling fitted on the run's own validation split (rebuilt from config.json, as
                training drew it), ECE and NLL on the test split before and after; the temperature goes into
                best.pt (`predict --calibrated`), the numbers into metrics.json and calibration.json
  robustness    accuracy on corrupted test images (analysis/robustness.py) into metrics.json and robustness.json
  Grad-CAM      per comparison, not per run: each model's map on the same test images, those the best model
                and the runner-up disagree on first, into OUT/gradcam.npz for the report
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import files
from ..data import Dataset, train_val_split
from ..data.pixels import normalize
from ..engine.device import resolve_device, resolve_precision
from ..engine.epoch import evaluate, Split, uses_tta
from ..errors import BakeoffError, one_line
from ..models.checkpoint import (
    add_to_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
)
from ..store import runfolder
from ..store.comparison import collect
from ..store.rows import best_row_per_model
from . import robustness as corruption
from .calibration import calibrate
from .cam import explain

CAM_IMAGES = 12  # test images explained per comparison: one row of the report's grid per model


def analyse_runs(run_dirs: list[Path], ds: Dataset, robustness: bool = True,
                 say: Callable[[str], None] = print) -> None:
    """Calibration (and robustness unless False) for every finished run that does not have it yet."""
    for run_dir in run_dirs:
        metrics = runfolder.read_status(run_dir) or {}
        if metrics.get("status") != "finished" or not (run_dir / runfolder.CHECKPOINT_FILE).is_file():
            continue
        todo_calibration = "ece" not in metrics
        todo_robustness = robustness and "corrupted_acc" not in metrics
        if not (todo_calibration or todo_robustness):
            continue
        try:
            run = _Loaded(run_dir, ds)
            extra = {}
            if todo_calibration:
                extra.update(calibrate_run(run))
            if todo_robustness:
                extra.update(robustness_of_run(run))
            runfolder.add_metrics(run_dir, extra)
        except (BakeoffError, OSError) as e:  # a damaged best.pt: the run keeps its scores; say why, go on
            say(f"{run_dir.name}: not analysed: {one_line(e, limit=300)}")
            continue
        say(f"{run_dir.name}: {_one_line(extra)}")


class _Loaded:
    """A finished run's model, rebuilt from best.pt, with its config and how its inputs were normalized."""

    def __init__(self, run_dir: Path, ds: Dataset):
        self.dir, self.ds = run_dir, ds
        self.config = runfolder.read_config(run_dir) or {}
        self.ckpt = load_checkpoint(run_dir)
        pre = self.ckpt["preprocessing"]
        self.mean, self.std = pre["mean"], pre["std"]
        self.device = resolve_device(self.config.get("device") or "auto")
        self.precision = resolve_precision(self.config.get("precision") or "auto", self.device)
        self.model = model_from_checkpoint(self.ckpt).to(self.device).to(memory_format=torch.channels_last)
        self.tta = uses_tta(self.config.get("tta", False), self.config.get("dataset", ds.name))

    def split(self, x: torch.Tensor, y: torch.Tensor) -> Split:
        return Split(normalize(x, self.mean, self.std).to(self.device), y.to(self.device))

    def logits(self, split: Split) -> torch.Tensor:
        """(N, K) float32 on the CPU; with --tta the mirror-averaged logits, as the test score was taken."""
        if not len(split):
            return torch.zeros(0, self.ds.num_classes)
        return evaluate(self.model, split, self.device, self.precision, collect=True, tta=self.tta).logits.cpu()


def calibrate_run(run: _Loaded) -> dict:
    """Fit the temperature on the run's validation split; write calibration.json and the temperature into best.pt."""
    start = time.perf_counter()
    cfg, ds = run.config, run.ds
    _, val_idx = train_val_split(ds.y_train, cfg.get("val_fraction", 0.1), cfg.get("seed", 0), cfg.get("train_subset"),
                                cfg.get("folds"), cfg.get("fold", 0))
    val_logits = run.logits(run.split(ds.x_train[val_idx], ds.y_train[val_idx]))
    test_logits = run.logits(run.split(ds.x_test, ds.y_test))
    metrics, bins = calibrate(val_logits, ds.y_train[val_idx], test_logits, ds.y_test)
    metrics["calibration_seconds"] = time.perf_counter() - start
    files.write_json(run.dir / runfolder.CALIBRATION_FILE, {**metrics, "fitted_on": "validation",
                                                                "n_val": len(val_idx), **bins})
    add_to_checkpoint(run.dir, temperature=metrics["temperature"])
    return metrics


def robustness_of_run(run: _Loaded) -> dict:
    """Accuracy under every corruption and severity, on the same test images for every model of a seed."""
    result = corruption.measure(run.model, run.ds.x_test, run.ds.y_test, run.mean, run.std,
                                run.config.get("seed", 0), run.device, run.precision)
    files.write_json(run.dir / runfolder.ROBUSTNESS_FILE, {**result, "severities": corruption.SEVERITIES})
    return {"corrupted_acc": result["mean_corrupted_acc"], "corruption_drop": result["relative_drop"],
            "robustness_seconds": result["seconds"], "robustness_images": result["n_images"]}


def _one_line(m: dict) -> str:
    parts = []
    if "ece" in m:
        parts.append(f"ECE {100 * m['ece']:.2f}% -> {100 * m['ece_calibrated']:.2f}% at temperature "
                     f"{m['temperature']:.2f} ({m['calibration_seconds']:.1f} s)")
    if "corrupted_acc" in m:
        parts.append(f"corrupted accuracy {100 * m['corrupted_acc']:.2f}% ({m['robustness_seconds']:.1f} s)")
    return "; ".join(parts)


# ---- Grad-CAM for the whole comparison ------------------------------------------------------------------------

def write_cams(out: Path, ds: Dataset, say: Callable[[str], None] = print) -> Path | None:
    """OUT/gradcam.npz: each model's map for its own prediction on the same test images (see `cam_images`).

    The runs are those the report shows per model: each model's best configuration, its best-validation seed.
    """
    cmp = collect(out)
    runs = [cmp.representative(r) for r in best_row_per_model(cmp)]
    runs = [r for r in runs if (r.dir / runfolder.CHECKPOINT_FILE).is_file()]
    if not runs:
        return None
    if cams_are_current(out, runs):
        return out / runfolder.CAM_FILE
    try:
        return _write_cams(out, ds, runs, say)
    except (BakeoffError, OSError) as e:
        say(f"Grad-CAM not written: {one_line(e, limit=300)}")
        return None


def cams_are_current(out: Path, runs: list) -> bool:
    """Whether OUT/gradcam.npz already explains these runs, in this order, and is newer than each one's
    checkpoint and predictions (a retrained or recalibrated run is drawn again)."""
    path = out / runfolder.CAM_FILE
    try:
        saved = [str(r) for r in files.read_arrays(path, ("run_ids",))["run_ids"]]
        written = path.stat().st_mtime_ns
        newest = max((r.dir / name).stat().st_mtime_ns for r in runs
                     for name in (runfolder.CHECKPOINT_FILE, runfolder.PREDICTIONS_FILE))
    except (OSError, KeyError, ValueError):
        return False
    return saved == [r.run_id for r in runs] and written > newest


def _write_cams(out: Path, ds: Dataset, runs: list, say: Callable[[str], None]) -> Path:
    predictions = [r.predictions() for r in runs]
    idx = cam_images([p["y_pred"] for p in predictions], predictions[0]["y_true"], CAM_IMAGES)
    maps, methods, seconds = [], [], []
    for run, pred in zip(runs, predictions):
        start = time.perf_counter()
        loaded = _Loaded(run.dir, ds)
        x = normalize(ds.x_test[idx], loaded.mean, loaded.std).to(loaded.device)
        m, method = explain(loaded.model, x, torch.as_tensor(pred["y_pred"][idx]))
        maps.append(m.cpu().numpy().astype(np.float16))
        methods.append(method)
        seconds.append(time.perf_counter() - start)
    path = out / runfolder.CAM_FILE
    files.write_arrays(path, {"indices": idx, "run_ids": np.array([r.run_id for r in runs]),
                                  "methods": np.array(methods), "maps": np.stack(maps),
                                  "y_pred": np.stack([p["y_pred"][idx] for p in predictions]),
                                  "y_true": predictions[0]["y_true"][idx], "seconds": np.array(seconds)})
    say(f"Grad-CAM of {len(runs)} models on {len(idx)} test images in {sum(seconds):.1f} s: {path}")
    return path


def cam_images(y_preds: list[np.ndarray], y_true: np.ndarray, n: int) -> np.ndarray:
    """Test image indices to explain: where the first two models (best, runner-up) disagree on being right,
    alternating who is right; then where any two models predict differently; then the first image of each class."""
    chosen: list[int] = []

    def take(indices) -> None:
        for i in indices:
            if len(chosen) >= n:
                return
            if int(i) not in chosen:
                chosen.append(int(i))

    if len(y_preds) > 1:
        right_a, right_b = y_preds[0] == y_true, y_preds[1] == y_true
        only_a, only_b = np.flatnonzero(right_a & ~right_b), np.flatnonzero(right_b & ~right_a)
        take([i for pair in zip(only_a, only_b) for i in pair] + list(only_a) + list(only_b))
        take(np.flatnonzero(np.any(np.stack(y_preds) != y_preds[0], axis=0)))
    take([np.flatnonzero(y_true == c)[0] for c in np.unique(y_true)])
    take(range(len(y_true)))
    return np.array(chosen[:n], dtype=np.int64)

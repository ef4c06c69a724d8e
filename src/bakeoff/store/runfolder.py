"""The run-folder format: what a run writes, how it is written, and how everyone else reads it back.

A run folder holds:
  config.json       the resolved RunConfig (the run is rebuilt from it)
  history.csv       epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds, stage (grows per epoch)
  best.pt           checkpoint of the weights with the lowest validation loss (models/checkpoint.py)
  predictions.npz   test labels, predictions, class probabilities and per-image loss (for reports)
  autoencoder.npz   autoencoders only: the images and 2-D maps the report draws (analysis/autoencoder_views.py)
  real_photos.npz   with --real-photos: predictions on a folder of real photos (analysis/real_photos.py)
  calibration.json  after training: ECE and NLL on test before/after temperature scaling fitted on validation,
                    with the reliability bins (analysis/finished.py, analysis/calibration.py)
  robustness.json   after training, unless --no-robustness: accuracy under corruptions (analysis/robustness.py)
  metrics.json      written last: its status 'finished' or 'failed' marks the run done
                    ('interrupted' marks a run stopped by a signal; it resumes on the next attempt)
  state.pt          while the run is under way: everything needed to resume after the last epoch

A comparison folder holds grid.json (the grid as given, the dataset card, versions, the command) beside
its run folders. The runner writes these; the grid, the report and serve read them through store/ alone,
so a comparison folder can be reported wherever it was copied. Every file is written atomically and with
the permissions the umask gives (files.py).
"""
from __future__ import annotations

import csv
import io
import json
import math
import platform
from pathlib import Path

import numpy as np

from .. import __version__
from ..files import atomic_write_bytes, atomic_write_text, read_json, write_json
from .metrics_check import damage

GRID_FILE = "grid.json"  # in OUT: what compare was given, the dataset card, versions; marks a comparison
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "predictions.npz"
CHECKPOINT_FILE = "best.pt"
STATE_FILE = "state.pt"
AUTOENCODER_FILE = "autoencoder.npz"
REAL_PHOTOS_FILE = "real_photos.npz"
CALIBRATION_FILE = "calibration.json"
ROBUSTNESS_FILE = "robustness.json"
CAM_FILE = "gradcam.npz"  # in OUT, for the whole comparison: the same test images explained by every model
HISTORY_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                  "stage"]  # stage: empty for one-stage training; see engine/stages.py
PREDICTION_KEYS = ("y_true", "y_pred", "probs", "loss")


# ---- writing ----------------------------------------------------------------------------------------------

def add_metrics(run_dir: Path, extra: dict) -> None:
    """Numbers measured on a finished run afterwards (real photos) merged into its metrics.json, atomically."""
    metrics = read_status(run_dir)
    if metrics is None or metrics["status"] == "damaged":
        raise OSError(f"{Path(run_dir) / METRICS_FILE}: missing or unreadable")
    write_json(Path(run_dir) / METRICS_FILE, {**metrics, **extra})


def write_history(run_dir: Path, rows: list[dict]) -> None:
    """history.csv rewritten atomically after every epoch, so it is never half a line."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(run_dir) / HISTORY_FILE, buf.getvalue())


def write_predictions(run_dir: Path, y_true: np.ndarray, probs: np.ndarray, loss: np.ndarray) -> None:
    """Test-set predictions: y_true (N,), y_pred (N,), probs (N, K) float32, per-image loss (N,)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, y_true=y_true, y_pred=probs.argmax(1), probs=probs, loss=loss)
    atomic_write_bytes(Path(run_dir) / PREDICTIONS_FILE, buf.getvalue())


# ---- reading ----------------------------------------------------------------------------------------------

def read_status(run_dir: Path) -> dict | None:
    """The run's metrics.json, or None when the run has not finished (no file, or not JSON).

    One that cannot be trusted (a list, `test_acc` missing or not a number: store/metrics_check.py) comes back as
    status 'damaged' with the reason, so compare trains the run again and the report lists it, never trusts it.
    """
    try:
        data = json.loads((Path(run_dir) / METRICS_FILE).read_text())
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return None
    why = damage(data)
    if why is None:
        return data
    seed = data.get("seed") if isinstance(data, dict) else None
    return {"status": "damaged", "reason": f"{METRICS_FILE} {why}", "seed": seed, "run_id": Path(run_dir).name}


def read_config(run_dir: Path) -> dict | None:
    """The run's config.json as written (a plain dict), or None."""
    return read_json(Path(run_dir) / CONFIG_FILE)


def read_history(run_dir: Path) -> list[dict]:
    """history.csv rows with numbers as floats (None where empty or NaN) and the stage as text."""
    try:
        with open(Path(run_dir) / HISTORY_FILE, newline="") as f:
            rows = [{k: (v or "") if k == "stage" else _float(v) for k, v in row.items() if isinstance(k, str)}
                    for row in csv.DictReader(f)]
    except (OSError, ValueError, csv.Error):  # ValueError: not UTF-8; csv.Error: a NUL byte, a broken quote
        return []
    return [r for r in rows if r.get("epoch") is not None]  # a row without its epoch cannot be drawn


def state_files(run_dir: Path) -> list[Path]:
    """The saved training states of an unfinished run: state.pt, and state-STAGE.pt for a run in stages."""
    return sorted(Path(run_dir).glob("state*.pt"))


def _float(v: str | None) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


# ---- provenance -------------------------------------------------------------------------------------------

def versions() -> dict:
    """What produced a result: bakeoff's, torch's, numpy's and scikit-learn's versions, Python, the machine."""
    # not `import sklearn`: 1-3 s, most of a rerun with nothing to train
    from importlib.metadata import version

    import torch

    return {"bakeoff": __version__, "torch": str(torch.__version__), "numpy": str(np.__version__),
            "sklearn": version("scikit-learn"), "python": platform.python_version(),
            "machine": platform.machine(), "threads": torch.get_num_threads()}

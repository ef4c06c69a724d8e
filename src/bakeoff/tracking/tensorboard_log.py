"""A comparison as TensorBoard event files: OUT/tensorboard/<run id>/, one per run.

Scalars per epoch (loss/train, loss/val, acc/train, acc/val, lr) so TensorBoard overlays the runs, and the
run's options with its final accuracies in the HParams tab. A run's folder is rewritten whole each time, so
logging again never doubles its curves.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..store.comparison import Comparison
from .params import epoch_metrics, final_metrics

LOGDIR = "tensorboard"
SCALARS = {"train_loss": "loss/train", "val_loss": "loss/val", "train_acc": "acc/train", "val_acc": "acc/val",
           "lr": "lr", "epoch_seconds": "seconds/epoch"}
HPARAM_METRICS = ("best_val_acc", "test_acc", "test_loss", "train_seconds")


def log_to_tensorboard(cmp: Comparison) -> Path:
    """Write every finished or failed run's event files; returns the log folder."""
    # needs the tensorboard package (tracking_targets checks)
    from torch.utils.tensorboard import SummaryWriter

    root = cmp.out / LOGDIR
    swept = _swept_options(cmp)
    for run in cmp.runs:
        if run.metrics.get("status") not in ("finished", "failed"):
            continue
        logdir = root / run.run_id
        shutil.rmtree(logdir, ignore_errors=True)
        with SummaryWriter(str(logdir)) as writer:
            for step, name, value in epoch_metrics(run.history):
                writer.add_scalar(SCALARS[name], value, step)
            final = final_metrics(run.metrics)
            hparams = {k: _hparam(run.config.get(k)) for k in ["model", "seed", *swept]}
            writer.add_hparams(hparams, {f"hparam/{k}": final[k] for k in HPARAM_METRICS if k in final},
                               run_name=".")  # in the run's own folder, not a timestamped one beside it
    return root


def _swept_options(cmp: Comparison) -> list[str]:
    """The options that differ between runs: the columns worth showing in the HParams table."""
    keys = sorted({k for r in cmp.runs for k in r.config} - {"model", "seed", "name_axes"})
    return [k for k in keys if len({repr(r.config.get(k)) for r in cmp.runs}) > 1]


def _hparam(value):
    """HParams take numbers, text and booleans; anything else (None, lists) as text."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)

"""What a run is to a tracker: its parameters (config.json), per-epoch and final metrics, as flat names."""
from __future__ import annotations

import math

# history.csv columns logged per epoch, under these names (step = epoch)
EPOCH_METRICS = {"train_loss": "train_loss", "train_acc": "train_acc", "val_loss": "val_loss", "val_acc": "val_acc",
                 "lr": "lr", "seconds": "epoch_seconds"}


def run_params(config: dict) -> dict[str, str]:
    """config.json as text parameters; name_axes and fold bookkeeping stay out."""
    return {k: str(v) for k, v in config.items() if k != "name_axes"}


def final_metrics(metrics: dict) -> dict[str, float]:
    """metrics.json's numbers; those also logged per epoch (the best epoch's) are renamed best_<name>."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        out[f"best_{key}" if key in EPOCH_METRICS.values() else key] = float(value)
    return out


def epoch_metrics(history: list[dict]) -> list[tuple[int, str, float]]:
    """(epoch, name, value) for every finite number of every history row."""
    rows = []
    for row in history:
        for column, name in EPOCH_METRICS.items():
            value = row.get(column)
            if isinstance(value, (int, float)) and math.isfinite(value) and row.get("epoch") is not None:
                rows.append((int(row["epoch"]), name, float(value)))
    return rows

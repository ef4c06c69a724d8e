"""Sections 4 and 5, how training went: learning curves per model, and validation accuracy over the sweep."""
from __future__ import annotations

import numpy as np

from ..store.comparison import Comparison
from ..store.rows import best_row_per_model, row_label
from . import figures
from .blocks import Figure, Section, Text

MAX_CONFIGURATIONS = 10  # lines on one learning-curve chart; more and only each model's best is drawn


def learning_curves(cmp: Comparison) -> Section:
    """Accuracy and loss per epoch, a line per configuration (each model's best in a large grid), mean over seeds."""
    best_per_model = best_row_per_model(cmp)
    if not best_per_model:
        return Section("curves", "Learning curves", [Text("No run finished.")])
    every = len(cmp.finished_rows) <= MAX_CONFIGURATIONS  # a sweep of one model shows every configuration
    shown = cmp.finished_rows if every else best_per_model
    groups = [(row_label(cmp, row), [r.history for r in cmp.finished_runs_of(row)]) for row in shown]
    swept = any(cmp.swept(a) for a in ("optimizers", "lrs", "augment"))
    what = ("every configuration" if every else "each model's best configuration") if swept else "every model"
    band = " (line: mean over seeds; band: min to max)" if cmp.swept("seeds") else ""
    blocks = [Figure("learning_curves", figures.learning_curves(groups),
                     f"Train and validation accuracy and loss per epoch, one line for {what}{band}. "
                     f"Each run's own curves are in its model's section below.")]
    return Section("curves", "Learning curves", blocks)


def sweep(cmp: Comparison) -> Section | None:
    """Validation accuracy per optimizer x learning rate, a panel per model; None when neither was swept."""
    if not (cmp.swept("optimizers") or cmp.swept("lrs")):
        return None
    optimizers = list(cmp.grid["optimizers"])
    lrs = [float(v) for v in cmp.grid["lrs"]]
    panels = []
    for model in cmp.grid["models"]:
        for aug in cmp.grid.get("augment", [False]):
            values = np.full((len(optimizers), len(lrs)), np.nan)
            for row in cmp.rows:
                if row["model"] == model and row["augment"] == aug and row.get("val_acc") is not None:
                    values[optimizers.index(row["optimizer"]), lrs.index(float(row["lr"]))] = row["val_acc"]
            title = model + (f" ({'aug' if aug else 'no aug'})" if cmp.swept("augment") else "")
            panels.append((title, optimizers, [f"{v:g}" for v in lrs], values))
    seeds = " (mean over seeds)" if cmp.swept("seeds") else ""
    return Section("sweep", "Optimizer x learning rate", [
        Figure("sweep_heatmap", figures.heatmaps(panels), f"Validation accuracy{seeds} per optimizer and learning rate"),
        Text(f"Validation accuracy{seeds} in percent for each optimizer (rows) and learning rate (columns); "
             f"grey cells failed (their reason is in the leaderboard).", "note")])

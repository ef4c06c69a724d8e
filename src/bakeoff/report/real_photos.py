"""The real-photo section: how each model does on a folder of real photos (`--real-photos`), and what it saw.

Drawn from each scored run's real_photos.npz and metrics.json (analysis/real_photos.py wrote them); nothing
here is used to choose or order anything.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix

from ..files import read_arrays
from ..store.comparison import Comparison, UNREADABLE_NPZ
from ..store.leaderboard import pct
from ..store.rows import best_row_per_model, row_label
from ..store.runfolder import REAL_PHOTOS_FILE
from . import figures
from .blocks import cell, Figure, Section, slug, Table, Text
from .figures import RIGHT, WRONG


def real_photos(cmp: Comparison) -> Section | None:
    """Per-class accuracy of every model on the real photos, the best model's confusion, each model's worst."""
    scored = [(row, cmp.representative(row)) for row in best_row_per_model(cmp)]
    scored = [(row, run) for row, run in scored if run is not None and "real_acc" in run.metrics]
    if not scored:
        return None
    m = scored[0][1].metrics
    mapped = ", ".join(f"{folder} → {cls}" for folder, cls in sorted(m.get("real_class_map", {}).items()))
    blocks = [Text(f"Each model's best configuration scored on {m['n_real']} real photos from {m['real_photos']} "
                   f"({mapped}), each brought into the dataset's look exactly as bakeoff predict and serve do. "
                   f"Like the test split, these photos choose nothing: the leaderboard stays sorted by validation "
                   f"accuracy.")]
    arrays = {}
    for row, run in scored:
        try:
            arrays[run.run_id] = read_arrays(run.dir / REAL_PHOTOS_FILE)
        except UNREADABLE_NPZ as e:
            blocks.append(Text(f"{run.run_id}: {REAL_PHOTOS_FILE} unreadable ({e}); left out.", "warn"))
    scored = [(row, run) for row, run in scored if run.run_id in arrays]
    if not scored:
        return Section("real-photos", "Real photos", blocks)
    blocks.append(_per_class(cmp, scored, arrays))
    row, run = scored[0]
    a = arrays[run.run_id]
    cm = confusion_matrix(a["y_true"], a["y_pred"], labels=list(range(len(cmp.classes))))
    blocks.append(Figure("real_photos_confusion", figures.confusion_matrix(
        cm, cmp.classes, f"{row_label(cmp, row)} on real photos"),
        f"Confusion matrix of {run.run_id} on the real photos, each row normalized to 100%", width=560))
    for row, run in scored:
        blocks.append(_worst(cmp, row, run.run_id, arrays[run.run_id]))
    return Section("real-photos", "Real photos", blocks)


def _per_class(cmp: Comparison, scored: list, arrays: dict) -> Table:
    present = sorted({int(c) for a in arrays.values() for c in np.unique(a["y_true"])})
    rows = []
    for row, run in scored:
        a = arrays[run.run_id]
        per_class = [a["y_pred"][a["y_true"] == c] == c for c in present]
        rows.append([cell(row_label(cmp, row)), cell(pct(row.get("real_acc_mean")), row.get("real_acc_mean")),
                     *(cell(pct(float(r.mean())) if len(r) else "", float(r.mean()) if len(r) else None)
                       for r in per_class)])
    return Table(["model", "all (%)", *(f"{cmp.classes[c]} (%)" for c in present)], rows, id="real-photos-per-class",
                 caption="Accuracy on the real photos, overall (mean over seeds) and per class (the run shown)")


def _worst(cmp: Comparison, row: dict, run_id: str, a: dict) -> Figure:
    """The photos the run got most wrong, as the model saw them."""
    views = a["worst_views"]
    images = views[:, None] if views.ndim == 3 else views.transpose(0, 3, 1, 2)  # (N, C, H, W) for image_grid
    idx = a["worst"]
    titles = [f"{cmp.classes[a['y_pred'][i]]} ({100 * a['probs'][i, a['y_pred'][i]]:.0f}%)\n"
              f"true: {cmp.classes[a['y_true'][i]]}" for i in idx]
    colors = [RIGHT if a["y_pred"][i] == a["y_true"][i] else WRONG for i in idx]
    return Figure(f"real_photos_worst_{slug(row['model'])}", figures.image_grid(
        images, titles, colors, f"{row_label(cmp, row)}: the real photos it got most wrong, as it saw them"),
        f"{row_label(cmp, row)}: the {len(idx)} real photos with the highest loss, as the model saw them; "
        f"caption: predicted class (its probability), true class")

"""Real-world accuracy: every model of a comparison scored on a labelled folder of real photos.

The photos go through exactly what `bakeoff predict` and `serve` do with a photo (data/photos/, the
checkpoint's own preprocessing, models/inference.py), so the number says how a model does on what users
send, not on the benchmark's tensors. The folder holds one folder per class, mapped to the dataset's classes
as data/photos/folders.py says. Nothing here chooses or orders anything: the leaderboard stays sorted by
validation accuracy.

Each scored run folder gets `real_photos.npz` (paths, labels, predictions, probabilities, and the model's
view of the photos it got most wrong, for the report) and `real_acc`, `n_real`, `real_photos`,
`real_class_map` in metrics.json.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.photos.folders import convert_photos, labelled_photos, parse_class_map
from ..errors import BakeoffError
from ..files import write_arrays
from ..models.inference import load_forward, probabilities
from ..store.runfolder import (
    CHECKPOINT_FILE,
    REAL_PHOTOS_FILE,
    add_metrics,
    read_status,
)

WORST_SHOWN = 16  # the photos a model got most wrong, kept as it saw them for the report


def score_run(run_dir: Path, photos: list[tuple[Path, int]], source: str, class_map: dict[str, int]) -> dict:
    """Score one finished run on the photos; writes real_photos.npz and the metrics; returns the metrics added."""
    ckpt, _, forward = load_forward(run_dir / CHECKPOINT_FILE)
    views, labels, paths, unreadable = convert_photos(photos, ckpt["preprocessing"])
    if not views:
        raise BakeoffError(f"--real-photos: none of the {len(photos)} photos could be read")
    probs = probabilities(views, ckpt["preprocessing"], forward).astype(np.float32)
    y_true, y_pred = np.asarray(labels, dtype=np.int64), probs.argmax(1)
    loss = -np.log(np.clip(probs[np.arange(len(labels)), y_true], 1e-12, None))
    worst = np.argsort(-loss, kind="stable")[:WORST_SHOWN]
    write_arrays(run_dir / REAL_PHOTOS_FILE, {
        "paths": np.asarray(paths), "y_true": y_true, "y_pred": y_pred, "probs": probs, "loss": loss.astype(np.float32),
        "worst": worst.astype(np.int64), "worst_views": np.stack([views[i] for i in worst])})
    added = {"real_acc": float((y_pred == y_true).mean()), "n_real": len(labels), "real_unreadable": unreadable,
             "real_photos": source, "real_class_map": {k: ckpt["classes"][v] for k, v in class_map.items()}}
    add_metrics(run_dir, added)
    return added


def score_comparison(run_dirs: list[Path], root: str | Path, class_map_text: str | None, classes: list[str],
                     say=print) -> int:
    """Score every finished run among `run_dirs`; `say` gets one line about skipped folders. Returns runs scored."""
    photos, mapping, skipped = labelled_photos(root, classes, parse_class_map(class_map_text))
    if skipped:
        say(f"real photos: folders {', '.join(skipped)} match no class of the dataset and are skipped "
            f"(--class-map FOLDER=CLASS maps them)")
    scored = 0
    for run_dir in run_dirs:
        if (read_status(run_dir) or {}).get("status") == "finished" and (run_dir / CHECKPOINT_FILE).is_file():
            score_run(run_dir, photos, str(root), mapping)
            scored += 1
    return scored

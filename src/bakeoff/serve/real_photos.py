"""Real-world accuracy: every model of a comparison scored on a labelled folder of real photos.

The photos go through exactly what `bakeoff predict` and `serve` do with a photo (preprocess.py, the
checkpoint's own preprocessing), so the number says how a model does on what users send, not on the
benchmark's tensors. The folder holds one folder per class; its names map to the dataset's classes
case- and punctuation-insensitively, also to either side of a class named 'a/b' (`t-shirt` ->
'T-shirt/top'), and `--class-map old=new,...` maps the rest. Folders that map to no class are skipped
and named. Nothing here chooses or orders anything: the leaderboard stays sorted by validation accuracy.

Each scored run folder gets `real_photos.npz` (paths, labels, predictions, probabilities, and the model's
view of the photos it got most wrong, for the report) and `real_acc`, `n_real`, `real_photos`,
`real_class_map` in metrics.json.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..data.folder import IMAGE_EXTS
from ..errors import BakeoffError, ConfigError, unknown_choice
from ..runfolder import CHECKPOINT_FILE, REAL_PHOTOS_FILE, add_metrics, read_status, write_arrays
from .predictor import load_model, probabilities
from .preprocess import PhotoError, model_view, open_photo

WORST_SHOWN = 16  # the photos a model got most wrong, kept as it saw them for the report


def parse_class_map(text: str | None) -> dict[str, str]:
    """'pants=Trouser,outwear=Coat' -> {'pants': 'Trouser', 'outwear': 'Coat'}."""
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        folder, sep, cls = item.partition("=")
        if not sep or not folder.strip() or not cls.strip():
            raise ConfigError(f"--class-map: '{item}' is not FOLDER=CLASS (e.g. pants=Trouser,outwear=Coat)")
        out[folder.strip()] = cls.strip()
    return out


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def map_folders(folders: list[str], classes: list[str], explicit: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """(folder -> class index, folders that map to none); an explicit class that does not exist is an error."""
    by_key: dict[str, int] = {}
    for i, c in enumerate(classes):
        for alias in (c, *c.split("/")):
            by_key.setdefault(_key(alias), i)
    unknown = [f for f in explicit if f not in folders]
    if unknown:
        raise ConfigError(f"--class-map names folder '{unknown[0]}', which is not in the photo folder; "
                          f"its folders: {', '.join(folders)}")
    mapping, skipped = {}, []
    for folder in folders:
        if folder in explicit:
            target = _key(explicit[folder])
            if target not in by_key:
                raise unknown_choice("class in --class-map", explicit[folder], classes)
            mapping[folder] = by_key[target]
        elif _key(folder) in by_key:
            mapping[folder] = by_key[_key(folder)]
        else:
            skipped.append(folder)
    return mapping, skipped


def labelled_photos(root: str | Path, classes: list[str], class_map: dict[str, str],
                    flag: str = "--real-photos") -> tuple[list[tuple[Path, int]], dict[str, int], list[str]]:
    """([(photo, class index)] from root/<folder>/*, folder -> class index, folders skipped); one line, naming
    `flag`, when nothing is usable."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{flag}: {root} is not a folder (give a folder of class folders of photos)")
    folders = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not folders:
        raise ConfigError(f"{flag}: {root} holds no class folders (expected {root}/<class>/*.jpg)")
    mapping, skipped = map_folders(folders, classes, class_map)
    if not mapping:
        raise ConfigError(f"{flag}: no folder of {root} ({', '.join(folders)}) matches a class of the "
                          f"dataset ({', '.join(classes)}); map them with --class-map FOLDER=CLASS,...")
    photos = [(f, mapping[folder]) for folder in sorted(mapping)
              for f in sorted((root / folder).rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_EXTS]
    if not photos:
        raise ConfigError(f"{flag}: the mapped folders of {root} hold no photos "
                          f"({', '.join(sorted(IMAGE_EXTS))})")
    return photos, mapping, skipped


def score_run(run_dir: Path, photos: list[tuple[Path, int]], source: str, class_map: dict[str, int]) -> dict:
    """Score one finished run on the photos; writes real_photos.npz and the metrics; returns the metrics added."""
    model = load_model(run_dir / CHECKPOINT_FILE)
    views, labels, paths, unreadable = [], [], [], 0
    for path, label in photos:
        try:
            views.append(model_view(open_photo(path, name=str(path)), model.preprocessing))
        except PhotoError:
            unreadable += 1  # as the folder loader does: a file that does not decode is not a photo
            continue
        labels.append(label)
        paths.append(str(path))
    if not views:
        raise BakeoffError(f"--real-photos: none of the {len(photos)} photos could be read")
    probs = probabilities(views, model).astype(np.float32)
    y_true, y_pred = np.asarray(labels, dtype=np.int64), probs.argmax(1)
    loss = -np.log(np.clip(probs[np.arange(len(labels)), y_true], 1e-12, None))
    worst = np.argsort(-loss, kind="stable")[:WORST_SHOWN]
    write_arrays(run_dir / REAL_PHOTOS_FILE, {
        "paths": np.asarray(paths), "y_true": y_true, "y_pred": y_pred, "probs": probs, "loss": loss.astype(np.float32),
        "worst": worst.astype(np.int64), "worst_views": np.stack([views[i] for i in worst])})
    added = {"real_acc": float((y_pred == y_true).mean()), "n_real": len(labels), "real_unreadable": unreadable,
             "real_photos": source, "real_class_map": {k: model.classes[v] for k, v in class_map.items()}}
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

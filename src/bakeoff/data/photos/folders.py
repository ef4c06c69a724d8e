"""Labelled photo folders: PATH/<class>/*.jpg mapped to a dataset's classes, and each photo converted as the
model sees it. One path for the photos a comparison trains on (--train-photos, photos/training.py) and those
it is scored on (--real-photos, analysis/real_photos.py), the same that `predict` and `serve` take a photo.

Folder names map to the dataset's classes case- and punctuation-insensitively, also to either side of a class
named 'a/b' (`t-shirt` -> 'T-shirt/top'), and `--class-map old=new,...` maps the rest. Folders that map to
no class are skipped and named.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import ConfigError, unknown_choice
from ..folder import IMAGE_EXTS
from .preprocess import model_view, open_photo, PhotoError


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


def convert_photos(photos: list[tuple[Path, int]], preprocessing: dict
                   ) -> tuple[list[np.ndarray], list[int], list[str], int]:
    """(views, labels, paths, unreadable): each photo as the model sees it (`model_view` under the checkpoint's
    preprocessing); a file that does not decode is skipped and counted, as the folder loader skips it."""
    views, labels, paths, unreadable = [], [], [], 0
    for path, label in photos:
        try:
            views.append(model_view(open_photo(path, name=str(path)), preprocessing))
        except PhotoError:
            unreadable += 1
            continue
        labels.append(label)
        paths.append(str(path))
    return views, labels, paths, unreadable

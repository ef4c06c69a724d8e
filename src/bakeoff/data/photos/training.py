"""Labelled real photos joined to a benchmark's training split (`--train-photos PATH`).

A model trained on 28x28 product shots reads a phone photo badly even after the photo is brought into the
dataset's domain (data/photos/preprocess.py): the converted photos still differ from the shots in ways no
augmentation imitated well (docs/real-photos.md). A few hundred labelled photos of the user's own kind,
converted exactly as `predict` and `serve` convert a photo, close most of that gap. The folder is split per
class: four fifths join the training split, repeated so that they make up about an eighth of each epoch (a
few thousand photos beside 54,000 dataset images would barely move the weights), and one fifth is held out
and scored after training as `photo_val_acc`, so the gain is measured on photos no run trained on. The
benchmark's own validation split still chooses the epoch, and the test split is only scored.

Folder names map to classes as for --real-photos (data/photos/folders.py), with the same --class-map.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import BakeoffError, ConfigError
from ..pixels import normalize_images
from ..splits import stratified_indices
from .folders import convert_photos, labelled_photos, parse_class_map

HELD_OUT = 0.2  # of each class's photos, scored after training, never trained on
PHOTO_SHARE = 1 / 8  # of each epoch's images, at least (photos repeated up to it; never fewer than once)
FLAG = "--train-photos"


@dataclass
class PhotoSplit:
    """A photo folder converted into the dataset's domain and split: normalized views, labels, and what was used."""

    x_train: torch.Tensor  # (N, C, H, W) float32, normalized as the dataset
    y_train: torch.Tensor
    x_held_out: torch.Tensor
    y_held_out: torch.Tensor
    unreadable: int  # files that did not decode, skipped as the folder loader skips them


_converted: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}  # one conversion per folder and domain per process


def photo_split(folder: str, class_map: str | None, classes: list[str], preprocessing: dict,
                seed: int) -> PhotoSplit:
    """The folder's photos as the model will see them in `predict`, split stratified by `seed`."""
    views, labels, unreadable = _convert(folder, class_map, classes, preprocessing)
    held, kept = _held_out_indices(labels, seed)
    x = torch.from_numpy(normalize_images(list(views), preprocessing["mean"], preprocessing["std"]))
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(labels)
    return PhotoSplit(x[kept], y[kept], x[held], y[held], unreadable)


def repeats(n_dataset: int, n_photos: int) -> int:
    """How often the photos are repeated in an epoch so that they make up about PHOTO_SHARE of it."""
    return max(1, round(PHOTO_SHARE * n_dataset / ((1 - PHOTO_SHARE) * max(n_photos, 1))))


def check_photo_folders(train_photos: str, class_map: str | None, classes: list[str],
                        real_photos: str | None, say=print) -> None:
    """Fail before any training: a folder that is not one, maps to no class, or shares photos with the folder
    that is scored (--real-photos), which would make real_acc a measure of memory. `say` gets one line naming
    the folders that map to no class."""
    photos, _, skipped = labelled_photos(Path(train_photos).expanduser(), classes, parse_class_map(class_map),
                                         flag=FLAG)
    if skipped:
        say(f"{FLAG}: folders {', '.join(skipped)} match no class of the dataset and are not trained on "
            f"(--class-map FOLDER=CLASS maps them)")
    if real_photos is None:
        return
    scored, _, _ = labelled_photos(Path(real_photos).expanduser(), classes, parse_class_map(class_map))
    shared = {p.resolve() for p, _ in photos} & {p.resolve() for p, _ in scored}
    if shared:
        raise ConfigError(f"{FLAG} and --real-photos share {len(shared)} photos (e.g. {sorted(shared)[0]}): photos "
                          f"that are scored must never be trained on; give --real-photos a folder of other photos")


def _held_out_indices(labels: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    kept, held = stratified_indices(torch.from_numpy(labels), HELD_OUT, seed)
    if len(held) == 0 or len(kept) == 0:
        raise ConfigError(f"{FLAG}: {len(labels)} photos are too few to hold a fifth out; give at least 5 per class")
    return held, kept


def _convert(folder: str, class_map: str | None, classes: list[str],
             preprocessing: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """(views (N, H, W[, C]) uint8, labels (N,), unreadable files), converted once per process."""
    key = json.dumps([str(Path(folder).expanduser().resolve()), class_map, classes, preprocessing], sort_keys=True,
                     default=str)
    if key not in _converted:
        photos, _, _ = labelled_photos(Path(folder).expanduser(), classes, parse_class_map(class_map), flag=FLAG)
        views, labels, _, unreadable = convert_photos(photos, preprocessing)
        if not views:
            raise BakeoffError(f"{FLAG}: none of the {len(photos)} photos in {folder} could be read")
        _converted[key] = (np.stack(views), np.asarray(labels, dtype=np.int64), unreadable)
    return _converted[key]

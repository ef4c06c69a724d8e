"""`folder:PATH`: images sorted into one folder per class, optionally under train/ and test/.

    PATH/<class>/*.png                    a fixed stratified 20% becomes the test set
    PATH/train/<class>/*.png + PATH/test/<class>/*.png

Every image is decoded with PIL, turned upright (EXIF orientation), its shorter side
resized to `img_size` and centre-cropped to a square (antialiased; images.py, which serving
shares). The set stays grayscale (1 channel) when every image is grayscale, else all become RGB;
transparent images are composited on white first, so a transparent background reads as paper, not black.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ..errors import DatasetError, one_line
from .dataset import Dataset
from .images import center_crop, GRAY_MODES
from .splits import stratified_indices

# Compared lower-cased; every format PIL decodes that cameras and the web use. `bakeoff predict DIR` takes the same.
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
MAX_DEFAULT_SIZE = 64  # default img_size: median shorter side, capped so a folder of photos stays cheap to train
TEST_FRACTION = 0.2
SPLIT_SEED = 0  # fixed, apart from any run seed: every run is tested on the same images


def load_folder(root: str | Path, img_size: int | None = None, name: str | None = None) -> Dataset:
    """A Dataset from a class-per-folder tree; undecodable images are skipped with a warning."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"folder:{root}: no such directory")
    split_dirs = (root / "train", root / "test")
    has_split = all(d.is_dir() for d in split_dirs)
    if has_split:
        train_files, test_files = _class_files(split_dirs[0]), _class_files(split_dirs[1])
        classes = sorted(train_files)
        extra = sorted(set(test_files) - set(train_files))
        if extra:
            raise DatasetError(f"{split_dirs[1]}: class folder(s) {', '.join(extra)} have no match in {split_dirs[0]}")
        entries = [(p, classes.index(c), "train") for c in classes for p in train_files[c]]
        entries += [(p, classes.index(c), "test") for c in sorted(test_files) for p in test_files[c]]
    else:
        files = _class_files(root)
        classes = sorted(files)
        entries = [(p, k, "") for k, c in enumerate(classes) for p in files[c]]

    skipped: list[tuple[Path, str]] = []
    probed = []  # (path, label, split, shorter side, mode) of the images whose header reads
    for path, label, split in entries:
        try:
            (w, h), mode = _probe(path)
        except Exception as e:  # PIL raises many types for bad files (OSError, SyntaxError, struct.error, ...)
            skipped.append((path, one_line(e)))
            continue
        probed.append((path, label, split, min(w, h), mode))
    if img_size is None:
        sides = [p[3] for p in probed]
        img_size = max(1, min(MAX_DEFAULT_SIZE, int(np.median(sides)))) if sides else MAX_DEFAULT_SIZE
    gray = all(p[4] in GRAY_MODES for p in probed)

    images, labels, splits = [], [], []
    for path, label, split, _, _ in probed:
        try:
            images.append(_decode(path, img_size, gray))  # (S, S) or (S, S, 3)
        except Exception as e:
            skipped.append((path, one_line(e)))
            continue
        labels.append(label)
        splits.append(split)
    if skipped:
        listed = ", ".join(f"{p} ({why})" for p, why in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        warnings.warn(f"folder:{root}: skipped {len(skipped)} image(s) that could not be decoded: {listed}{more}",
                      stacklevel=2)

    y = torch.tensor(labels, dtype=torch.int64)
    is_test = torch.tensor([s == "test" for s in splits], dtype=torch.bool)
    train_pool = torch.nonzero(~is_test).flatten() if has_split else torch.arange(len(labels))
    for k, c in enumerate(classes):
        if not (y[train_pool] == k).any():
            where = split_dirs[0] / c if has_split else root / c
            raise DatasetError(f"{where}: no image could be decoded, so class '{c}' has no training images")
    if has_split:
        train_idx, test_idx = train_pool, torch.nonzero(is_test).flatten()
        split_desc = "train/ and test/ folders"
    else:
        train_idx, test_idx = stratified_indices(y, TEST_FRACTION, SPLIT_SEED)
        split_desc = f"stratified {TEST_FRACTION:.0%}, seed {SPLIT_SEED}"
    if len(test_idx) == 0:
        raise DatasetError(f"folder:{root}: no test images; put at least 2 images in a class folder "
                           f"(20% are held out) or add {root}/test/<class>/")

    x = np.stack(images)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N, C, S, S)
    x = torch.from_numpy(np.ascontiguousarray(x))
    return Dataset(name=name or f"folder:{root}", classes=classes,
                   x_train=x[train_idx], y_train=y[train_idx], x_test=x[test_idx], y_test=y[test_idx],
                   source=str(root),
                   meta={"skipped": [str(p) for p, _ in skipped], "img_size": img_size, "test_split": split_desc})


def _class_files(folder: Path) -> dict[str, list[Path]]:
    """{class name: sorted image paths} for every sub-folder of `folder`; empty ones are errors."""
    class_dirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{folder}: no class folders; expected {folder}/<class>/*.png (or {_exts()}), "
                           f"or {folder}/train/<class>/ and {folder}/test/<class>/")
    files = {}
    for d in class_dirs:
        # hidden files skipped: macOS '._x.jpg' resource forks are not images
        found = sorted(p for p in d.iterdir()
                       if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".") and p.is_file())
        if not found:
            raise DatasetError(f"{d}: class folder has no images ({_exts()})")
        files[d.name] = found
    return files


def _exts() -> str:
    return ", ".join(sorted(IMAGE_EXTS))


def _probe(path: Path) -> tuple[tuple[int, int], str]:
    """(size, mode) from the header alone; Image.open already refuses decompression bombs."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse above MAX_IMAGE_PIXELS, not 2x
        with Image.open(path) as im:
            return im.size, im.mode


def _decode(path: Path, size: int, gray: bool) -> np.ndarray:
    """uint8 (size, size) if `gray` else (size, size, 3): upright, shorter side to `size`, centre crop."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft(None, (size, size))  # let libjpeg decode at 1/2..1/8 scale: big photos load far faster
            im = ImageOps.exif_transpose(im)  # a copy, decoded, the right way up
    return center_crop(im, size, gray)

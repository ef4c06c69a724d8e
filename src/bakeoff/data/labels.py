"""Labels and class names as every reader must hand them on: whole numbers 0..K-1, K within reason.

Checked before any conversion, because a conversion hides the mistake: a uint64 label of 2**64-1 wraps
to -1 in int64 (a crash mid-training), a CIFAR label of 0.5 truncates to 0 (a silently wrong class), and
one label of 10**6 makes a million classes (a 1 GB classifier head for a 10-class dataset).
"""
from __future__ import annotations

import numpy as np

from ..errors import DatasetError

MAX_CLASSES = 100_000  # ImageNet-21k has 21,841; a 512-wide head for 100,000 classes is already 200 MB


def as_labels(values, what: str) -> np.ndarray:
    """int64 (N,) labels from an integer array or a list of ints in 0..MAX_CLASSES-1; `what` names them."""
    y = values if isinstance(values, np.ndarray) else _from_sequence(values, what)
    if y.dtype.kind == "f":  # named when it is a fraction: truncating it would pick a class silently
        bad = ~np.isfinite(y) | (y != np.rint(y))
        if bad.any():
            raise DatasetError(f"{what}: label {y[bad][0]!r} is not a whole number; expected integers 0..K-1")
    if y.dtype.kind not in "iu":
        raise DatasetError(f"{what}: labels are {y.dtype}; expected integers 0..K-1")
    if y.size:
        lo, hi = y.min(), y.max()  # in the labels' own dtype: uint64 2**64-1 stays itself
        if lo < 0:
            raise DatasetError(f"{what}: negative label {int(lo)}; expected integers 0..K-1")
        if hi >= MAX_CLASSES:
            raise DatasetError(f"{what}: label {int(hi)} is out of range; bakeoff takes at most "
                               f"{MAX_CLASSES:,} classes (labels 0..{MAX_CLASSES - 1:,})")
    return y.astype(np.int64)


def check_inferred_classes(top: int, n_images: int, what: str) -> None:
    """Classes counted from the labels (no names given): label `top` must not make more classes than images."""
    if top + 1 > n_images:
        raise DatasetError(f"{what}: label {top} would make {top + 1:,} classes, more than the {n_images:,} "
                           f"images hold; number the classes 0..K-1 or give their names")


def class_names(names, what: str) -> list[str]:
    """A list of 1..MAX_CLASSES class names from a list, tuple or 1-D array of strings (bytes are decoded)."""
    if isinstance(names, np.ndarray) and names.ndim == 1 and names.dtype.kind in "US":
        names = names.tolist()
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, (str, bytes)) for n in names):
        raise DatasetError(f"{what}: class names must be a list of strings, got {_describe(names)}")
    if not 1 <= len(names) <= MAX_CLASSES:
        raise DatasetError(f"{what}: {len(names):,} class names; expected 1..{MAX_CLASSES:,}")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def _from_sequence(values, what: str) -> np.ndarray:
    """A list of Python ints as int64, its range checked first (2**70 fits no dtype)."""
    if not isinstance(values, (list, tuple)):
        raise DatasetError(f"{what}: labels must be a list of integers, got {_describe(values)}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise DatasetError(f"{what}: label {str(v)[:40]} is not an integer; expected integers 0..K-1")
    if values:
        lo, hi = min(values), max(values)
        if lo < 0:
            raise DatasetError(f"{what}: negative label {int(lo)}; expected integers 0..K-1")
        if hi >= MAX_CLASSES:
            raise DatasetError(f"{what}: label {int(hi)} is out of range; bakeoff takes at most "
                               f"{MAX_CLASSES:,} classes (labels 0..{MAX_CLASSES - 1:,})")
    return np.asarray(values, dtype=np.int64)


def _describe(v) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of {v.dtype} {v.shape}"
    return type(v).__name__

"""Arrays handed to the Python API (`bakeoff.compare(data=...)`), checked and saved as an .npz dataset.

Saved, not only held in memory: every run's config names its dataset, and `bakeoff report`, `bakeoff evaluate`
and `bakeoff.load` reload it from that name, so the arrays become `arrays:OUT/data-<hash>.npz`, read back by the
same reader as any other .npz (arrays.py). The hash of the contents in the name keeps other arrays saved into
the same OUT from counting as the same runs.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..files import atomic_write_bytes
from .arrays import dataset_from_arrays, REQUIRED_KEYS

WHERE = "data"  # how errors name the arrays: `data: x_train: images of shape ...`


def as_numpy(value, what: str) -> np.ndarray:
    """A NumPy array from a NumPy array or a torch tensor (any device); anything else is refused by name."""
    if isinstance(value, np.ndarray):
        return value
    if type(value).__module__.startswith("torch"):
        import torch

        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            return (value.float() if value.is_floating_point() else value).numpy()  # bfloat16 has no NumPy dtype
    raise DatasetError(f"{what}: expected a NumPy array or a torch tensor, got {type(value).__name__}")


def in_memory_arrays(data) -> dict[str, np.ndarray]:
    """x_train, y_train, x_test, y_test from a 4-tuple (as Keras' load_data gives them, flattened) or a dict."""
    if isinstance(data, dict):
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise DatasetError(f"{WHERE}: missing {', '.join(missing)}; expected the keys {', '.join(REQUIRED_KEYS)}")
        items = [data[k] for k in REQUIRED_KEYS]
    elif isinstance(data, (tuple, list)) and len(data) == 4:
        items = list(data)
    else:
        got = f"{len(data)} items" if isinstance(data, (tuple, list)) else type(data).__name__
        raise DatasetError(f"{WHERE}: expected (x_train, y_train, x_test, y_test), got {got}")
    return {k: as_numpy(v, f"{WHERE}: {k}") for k, v in zip(REQUIRED_KEYS, items)}


def save_in_memory_dataset(data, classes, folder: Path) -> Path:
    """Check the arrays as an .npz would be checked, save them as FOLDER/data-<hash>.npz; return its path.

    Images: (N, H, W), (N, H, W, C) or (N, C, H, W), C = 1 or 3, square, uint8 or floats in 0..1.
    Labels: integers 0..K-1, (N,) or (N, 1). `classes`: K names, or None for "0".."K-1".
    """
    ds = dataset_from_arrays(in_memory_arrays(data), WHERE, name=WHERE, classes=classes)
    arrays = {"x_train": ds.x_train.numpy(), "y_train": ds.y_train.numpy(), "x_test": ds.x_test.numpy(),
              "y_test": ds.y_test.numpy(), "classes": np.array(ds.classes, dtype=str)}
    digest = hashlib.sha256(json.dumps(ds.classes).encode())
    for key in REQUIRED_KEYS:
        digest.update(f"{key}{arrays[key].shape}".encode())
        digest.update(np.ascontiguousarray(arrays[key]).data)
    path = (Path(folder) / f"data-{digest.hexdigest()[:12]}.npz").resolve()
    if not path.is_file():  # the same arrays again: already saved
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # uncompressed: written once, read once per compare, fast both ways
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
    return path

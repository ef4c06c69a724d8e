"""`arrays:PATH.npz`: any dataset saved as NumPy arrays x_train, y_train, x_test, y_test."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError, one_line
from .dataset import Dataset
from .labels import as_labels, check_inferred_classes, class_names

REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def load_arrays(path: str | Path, name: str | None = None, classes: list[str] | None = None) -> Dataset:
    """A Dataset from an .npz holding x_train, y_train, x_test, y_test (and optionally `classes`).

    Images may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}; they must be
    square and uint8, or floating point in 0..1 (then scaled to 0..255 and rounded).
    Labels are integers, shape (N,) or (N, 1). Class names come from a `classes`
    string array in the file, else from `classes`, else "0".."K-1" with K = max label + 1.
    Read with allow_pickle=False: a .npz cannot run code on load.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (arrays:PATH wants an .npz with {', '.join(REQUIRED_KEYS)})")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as e:  # untrusted bytes: zip, header and decompression errors all end here
        raise DatasetError(f"{path}: not a readable .npz ({one_line(e, limit=200)})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path}: a single array, not an .npz with {', '.join(REQUIRED_KEYS)}")
    with npz:
        missing = [k for k in REQUIRED_KEYS if k not in npz.files]
        if missing:
            raise DatasetError(f"{path}: missing {', '.join(missing)} (found: {', '.join(npz.files) or 'nothing'})")
        data = {k: _member(npz, k, path) for k in REQUIRED_KEYS}
        names = _member(npz, "classes", path) if "classes" in npz.files else None
    if names is not None and (names.dtype.kind not in "US" or names.ndim != 1):
        raise DatasetError(f"{path}: `classes` must be a 1-D array of strings, got {names.dtype} {names.shape}")
    return dataset_from_arrays(data, str(path), name=name or f"arrays:{path}",
                               classes=names if names is not None else classes, source=str(path))


def dataset_from_arrays(data: dict[str, np.ndarray], where: str, name: str, classes=None,
                        source: str = "") -> Dataset:
    """A Dataset from x_train, y_train, x_test, y_test arrays as `load_arrays` describes them, checked;
    `where` begins every error (a file's path, or `data` for arrays handed to the Python API)."""
    x_train, x_test = (to_nchw(data[k], f"{where}: {k}") for k in ("x_train", "x_test"))
    y_train, y_test = (_labels(data[k], f"{where}: {k}") for k in ("y_train", "y_test"))
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise DatasetError(f"{where}: x_{split} holds {len(x)} images but y_{split} {len(y)} labels")
        if len(x) == 0:
            raise DatasetError(f"{where}: x_{split} holds no images")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(f"{where}: x_train images are {x_train.shape[1:]} (C, H, W) but x_test {x_test.shape[1:]}")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    if classes is not None:
        classes = class_names(classes, f"{where}: classes")
    else:
        check_inferred_classes(n_classes - 1, len(y_train) + len(y_test), where)
        classes = [str(k) for k in range(n_classes)]
    if n_classes > len(classes):
        raise DatasetError(f"{where}: label {n_classes - 1} is out of range for {len(classes)} classes")
    return Dataset(name=name, classes=list(classes),
                   x_train=torch.from_numpy(x_train), y_train=torch.from_numpy(y_train),
                   x_test=torch.from_numpy(x_test), y_test=torch.from_numpy(y_test), source=source)


def _member(npz, key: str, path: Path) -> np.ndarray:
    """One array of the archive, refused from its header alone when it claims more bytes than it holds."""
    member = f"{key}.npy"
    try:
        stored = npz.zip.getinfo(member).file_size  # uncompressed size, from the zip directory
        with npz.zip.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version not in HEADER_READERS:
                raise DatasetError(f"{path}: {key} uses .npy format {version}, not 1.0 or 2.0")
            shape, _, dtype = HEADER_READERS[version](f)
        if dtype.hasobject:
            raise DatasetError(f"{path}: {key} holds Python objects, which would need pickle; refused")
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if claimed > stored:
            raise DatasetError(f"{path}: {key} claims {claimed} bytes but the archive holds {stored}")
        return npz[key]
    except DatasetError:
        raise
    except Exception as e:  # untrusted bytes: CRC, decompression and header errors all end here
        raise DatasetError(f"{path}: cannot read {key} ({one_line(e, limit=200)})") from None


def to_nchw(x: np.ndarray, what: str) -> np.ndarray:
    """uint8 (N, C, H, W) from (N, H, W), (N, H, W, C) or (N, C, H, W) images; `what` names them in errors."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # HWC, the layout of Keras and of PIL
    elif x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[3] > x.shape[1]:
        pass  # already CHW
    else:
        raise DatasetError(f"{what}: images of shape {x.shape}; expected (N, H, W), (N, H, W, C) "
                           f"or (N, C, H, W) with C = 1 or 3")
    if x.shape[2] != x.shape[3]:
        raise DatasetError(f"{what}: images are {x.shape[2]}x{x.shape[3]}; bakeoff needs square images "
                           f"(crop or pad them, or use folder:PATH which centre-crops)")
    if x.dtype.kind == "f":
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        if not (0.0 <= lo and hi <= 1.0):  # also catches NaN
            raise DatasetError(f"{what}: float images must lie in 0..1 (found {lo}..{hi}); "
                               f"save uint8 0..255 instead")
        x = np.rint(x * 255.0).astype(np.uint8)
    elif x.dtype != np.uint8:
        raise DatasetError(f"{what}: images are {x.dtype}; expected uint8 (0..255) or floats in 0..1")
    return np.ascontiguousarray(x)


def _labels(y: np.ndarray, what: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"{what}: labels of shape {y.shape}; expected (N,) or (N, 1)")
    return as_labels(y, what)

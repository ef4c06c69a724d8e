"""CIFAR-10 from the official python batches (a folder or the .tar.gz) or from an .npz."""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError, one_line
from .arrays import load_arrays
from .dataset import Dataset
from .labels import as_labels, class_names
from .safe_pickle import safe_loads, UnsafePickle

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BATCHES_DIR = "cifar-10-batches-py"
TAR_NAME = "cifar-10-python.tar.gz"
NPZ_NAME = "cifar10.npz"
TAR_MD5 = "c58f30108f718f92721af3b95e74349a"  # the official download
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
META = "batches.meta"
ROW = 3 * 32 * 32  # one image per row: R plane, then G, then B, each 32x32 row-major


def find_cifar(folder: Path) -> Path | None:
    """The CIFAR-10 source inside `folder` (batches folder, .tar.gz or .npz), or `folder` itself if it is one."""
    if folder.is_file() and (folder.name.endswith(".tar.gz") or folder.suffix == ".npz"):
        return folder
    if (folder / TRAIN_BATCHES[0]).is_file():
        return folder
    for candidate in (folder / BATCHES_DIR, folder / TAR_NAME, folder / NPZ_NAME):
        if candidate.exists():
            return candidate
    return None


def load_cifar10(path: Path) -> Dataset:
    """CIFAR-10 from a batches folder, the official .tar.gz (read in memory) or an .npz (HWC uint8)."""
    path = Path(path)
    if path.suffix == ".npz":
        ds = load_arrays(path, name="cifar10", classes=CLASSES)
    elif path.is_dir():
        ds = _from_blobs(_read_folder(path), str(path))
    else:
        ds = _from_blobs(_read_tar(path), str(path))
    ds.source = str(path)
    return ds


def _read_folder(folder: Path) -> dict[str, bytes]:
    blobs = {}
    for name in [*TRAIN_BATCHES, TEST_BATCH, META]:
        if (folder / name).is_file():
            blobs[name] = (folder / name).read_bytes()
    return blobs


def _read_tar(path: Path) -> dict[str, bytes]:
    """The batch files in the tar, read in one pass without extracting anything to disk."""
    wanted = {*TRAIN_BATCHES, TEST_BATCH, META}
    blobs = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # sequential: a .tar.gz cannot seek cheaply
                base = member.name.rsplit("/", 1)[-1]
                if base in wanted and member.isfile():  # isfile: never follow links out of the archive
                    blobs[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DatasetError(f"{path}: not a readable tar archive ({one_line(e, limit=200)})") from None
    return blobs


def _from_blobs(blobs: dict[str, bytes], where: str) -> Dataset:
    missing = [n for n in [*TRAIN_BATCHES, TEST_BATCH] if n not in blobs]
    if missing:
        raise DatasetError(f"{where}: missing CIFAR-10 batch files {', '.join(missing)}")
    classes = CLASSES
    if META in blobs:
        meta = _unpickle(blobs[META], f"{where}/{META}")
        classes = class_names(_get(meta, "label_names", f"{where}/{META}"), f"{where}/{META}: label_names")
    train = [_batch(blobs[n], f"{where}/{n}") for n in TRAIN_BATCHES]
    x_test, y_test = _batch(blobs[TEST_BATCH], f"{where}/{TEST_BATCH}")
    if not sum(len(y) for _, y in train):
        raise DatasetError(f"{where}: the training batches hold no images")
    if not len(y_test):
        raise DatasetError(f"{where}/{TEST_BATCH}: holds no images")
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    top = int(max(y_train.max(initial=0), y_test.max(initial=0)))
    if top >= len(classes):
        raise DatasetError(f"{where}: label {top} is out of range for {len(classes)} classes")
    return Dataset(name="cifar10", classes=classes,
                   x_train=torch.from_numpy(x_train), y_train=torch.from_numpy(y_train),
                   x_test=torch.from_numpy(x_test), y_test=torch.from_numpy(y_test), source=where)


def _batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one batch: x uint8 (N, 3, 32, 32), y int64 (N,)."""
    d = _unpickle(blob, where)
    data, labels = _get(d, "data", where), _get(d, "labels", where)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW:
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{where}: 'data' should be uint8 (N, {ROW}), got {desc}")
    if isinstance(labels, np.ndarray) and labels.ndim != 1:
        raise DatasetError(f"{where}: 'labels' of shape {labels.shape}; expected one label per image")
    y = as_labels(labels, where)  # whole numbers in range: 0.5 is refused, not truncated to 0
    if y.shape != (len(data),):
        raise DatasetError(f"{where}: {len(data)} images but {y.size} labels")
    return data.reshape(-1, 3, 32, 32), y


def _unpickle(blob: bytes, where: str):
    try:
        obj = safe_loads(blob)
    except UnsafePickle as e:
        raise DatasetError(f"{where}: not an official CIFAR-10 batch ({e})") from None
    except Exception as e:  # a damaged pickle can raise nearly anything (EOFError, ValueError, TypeError, ...)
        raise DatasetError(f"{where}: corrupt pickle ({type(e).__name__}: {one_line(e, limit=200)})") from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected a pickled dict, got {type(obj).__name__}")
    return obj


def _get(d: dict, key: str, where: str):
    for k in (key.encode(), key):  # bytes keys from Python 2 pickles, str from Python 3 ones
        if k in d:
            return d[k]
    raise DatasetError(f"{where}: no '{key}' entry (found: {', '.join(map(repr, d))})")

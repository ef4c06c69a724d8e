"""Write tiny datasets in the real on-disk formats, for tests (import: `from data_fixtures import ...`).

IDX .gz files with the official names carry the official MD5s' names but not their
bytes, so loading them as fashion-mnist/mnist needs `accept_md5s(monkeypatch, name, md5s)`
with the dict `write_idx_gz` returns.
"""
from __future__ import annotations

import gzip as gzip_lib
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def tiny_images(n: int, size: int = 28, channels: int = 0, num_classes: int = 10, seed: int = 0):
    """(x, y): uint8 images (N, H, W) or (N, H, W, C) whose brightness follows the label, labels 0..K-1 cycling."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % num_classes
    shape = (n, size, size) + ((channels,) if channels else ())
    noise = rng.integers(0, 40, size=shape)
    level = (y * (200 // max(num_classes - 1, 1))).reshape((n,) + (1,) * (len(shape) - 1))
    return (level + noise).clip(0, 255).astype(np.uint8), y.astype(np.uint8)


def idx_bytes(arr: np.ndarray) -> bytes:
    """Raw IDX: magic 2051 (3-D images) or 2049 (1-D labels), big-endian dims, uint8 payload."""
    arr = np.asarray(arr, dtype=np.uint8)
    magic = 0x0800 | arr.ndim  # 0x08: unsigned byte data; low byte: number of dims
    return struct.pack(f">I{arr.ndim}I", magic, *arr.shape) + arr.tobytes()


def write_idx_gz(dir, x_train, y_train, x_test, y_test, gzip: bool = True) -> dict[str, str]:
    """The four official IDX files in `dir` (gzipped or not); returns {file name: md5}."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for stem, arr in (("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                      ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)):
        data = idx_bytes(arr)
        name = stem
        if gzip:
            data, name = gzip_lib.compress(data, mtime=0), stem + ".gz"
        (dir / name).write_bytes(data)
        md5s[name] = hashlib.md5(data).hexdigest()
    return md5s


def accept_md5s(monkeypatch, name: str, md5s: dict[str, str]) -> None:
    """Make the loader (and downloader) treat these fixture files as the official `name` ones."""
    from bakeoff.data import idx

    monkeypatch.setitem(idx.OFFICIAL_MD5, name, dict(md5s))


class Py2Pickler(pickle._Pickler):
    """Pickles as Python 2 did for the official CIFAR-10 batches: str and bytes both as 8-bit strings
    (SHORT_BINSTRING / BINSTRING), which Python 3 reads back as bytes with encoding="bytes"."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_string(self, obj, save_persistent_id=True):
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_string
    dispatch[bytes] = save_string


def py2_dumps(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_batch_blobs(x_train, y_train, x_test, y_test, label_names=CIFAR_CLASSES,
                      n_batches: int = 5, python2: bool = True) -> dict[str, bytes]:
    """{file name: pickle bytes} like cifar-10-batches-py: x is HWC uint8 (N, 32, 32, 3).

    python2: pickled as the official files were (8-bit strings); else by Python 3's pickle at protocol 2."""
    dumps = py2_dumps if python2 else (lambda obj: pickle.dumps(obj, protocol=2))
    def batch(x, y, label):
        rows = np.ascontiguousarray(np.asarray(x, np.uint8).transpose(0, 3, 1, 2).reshape(len(x), -1))  # planar R, G, B
        d = {b"batch_label": label.encode(), b"labels": [int(v) for v in y], b"data": rows,
             b"filenames": [f"img_{i}.png".encode() for i in range(len(x))]}
        return dumps(d)

    blobs = {}
    parts = np.array_split(np.arange(len(x_train)), n_batches)
    for i, part in enumerate(parts, start=1):
        blobs[f"data_batch_{i}"] = batch(x_train[part], np.asarray(y_train)[part], f"training batch {i} of {n_batches}")
    blobs["test_batch"] = batch(x_test, y_test, "testing batch 1 of 1")
    meta = {b"num_cases_per_batch": len(parts[0]), b"label_names": [n.encode() for n in label_names], b"num_vis": 3072}
    blobs["batches.meta"] = dumps(meta)
    return blobs


def write_cifar_batches(dir, x_train, y_train, x_test, y_test, label_names=CIFAR_CLASSES,
                        python2: bool = True) -> Path:
    """`dir/cifar-10-batches-py/` with data_batch_1..5, test_batch, batches.meta; returns that folder."""
    out = Path(dir) / "cifar-10-batches-py"
    out.mkdir(parents=True, exist_ok=True)
    for name, blob in cifar_batch_blobs(x_train, y_train, x_test, y_test, label_names, python2=python2).items():
        (out / name).write_bytes(blob)
    return out


def write_cifar_tar_gz(dir, x_train, y_train, x_test, y_test, label_names=CIFAR_CLASSES) -> Path:
    """`dir/cifar-10-python.tar.gz` laid out as the official archive; returns its path."""
    path = Path(dir) / "cifar-10-python.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in cifar_batch_blobs(x_train, y_train, x_test, y_test, label_names).items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def write_npz(path, x_train, y_train, x_test, y_test, classes=None, compressed: bool = False) -> Path:
    """An .npz with x_train, y_train, x_test, y_test (and `classes` as a str array when given)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    if classes is not None:
        arrays["classes"] = np.array(classes, dtype=str)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def write_image_folder(dir, n_per_class: int, size, mode: str = "RGB", split: bool = False,
                       classes=("cat", "dog", "frog"), ext: str = "png") -> Path:
    """Real image files: dir/<class>/NNN.<ext> (or dir/{train,test}/<class>/...); returns `dir`.

    `size` is an int or (width, height); `mode` a PIL mode ('L', 'RGB', 'RGBA', ...).
    Each class has its own brightness so a model (or a test) can tell them apart.
    """
    root = Path(dir)
    w, h = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(0)
    counts = [("train", n_per_class), ("test", max(1, n_per_class // 4))] if split else [("", n_per_class)]
    for split_name, n in counts:
        for k, c in enumerate(classes):
            folder = root / split_name / c if split_name else root / c
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                level = 30 + k * (180 // max(len(classes) - 1, 1))
                base = np.clip(level + rng.integers(-20, 20, size=(h, w, 3)), 0, 255).astype(np.uint8)
                im = Image.fromarray(base, "RGB")
                if mode != "RGB":
                    im = im.convert(mode)
                im.save(folder / f"{i:03d}.{ext}")
    return root

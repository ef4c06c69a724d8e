"""IDX files: the format of the official MNIST and Fashion-MNIST downloads.

Layout (big-endian): a 4-byte magic whose low byte is the number of dims, one
uint32 per dim, then the uint8 payload row-major. Everything is checked before
the payload is decompressed or copied, so a lying header cannot allocate more
than the file can really hold.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from .dataset import Dataset

IMAGES_MAGIC = 2051  # 0x00000803: uint8 data, 3 dims (N, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: uint8 data, 1 dim (N,)
# (images, labels) per split, without the `.gz`
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
GZ_NAMES = [stem + ".gz" for pair in SPLITS.values() for stem in pair]

CLASSES = {
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "mnist": [str(d) for d in range(10)],
}
# MD5 of the official .gz downloads (the same as torchvision's lists and /work/shared/datasets/README.md).
OFFICIAL_MD5 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DEFLATE_RATIO = 1032  # deflate cannot expand data more than ~1032:1; a header claiming more is a lie


def find_file(folder: Path, stem: str) -> Path | None:
    """`stem.gz` or the un-gzipped `stem` in `folder`, gz first."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def has_idx_files(folder: Path) -> bool:
    """True when all four IDX files (gzipped or not) are in `folder`."""
    return all(find_file(folder, stem) for pair in SPLITS.values() for stem in pair)


def find_idx(folder: Path) -> Path | None:
    """`folder` when it holds all four IDX files, else None (cifar.find_cifar's counterpart)."""
    return folder if folder.is_dir() and has_idx_files(folder) else None


def load_idx(folder: Path, name: str) -> Dataset:
    """Fashion-MNIST or MNIST (`name`) from the four IDX files in `folder`."""
    classes = CLASSES[name]
    md5s = OFFICIAL_MD5.get(name, {})
    arrays = {}
    for split, (img_stem, lbl_stem) in SPLITS.items():
        img_path, lbl_path = find_file(folder, img_stem), find_file(folder, lbl_stem)
        if img_path is None or lbl_path is None:
            missing = img_stem if img_path is None else lbl_stem
            raise DatasetError(f"{folder}: no {missing}.gz (or {missing}) for {name}")
        x = read_idx(img_path, IMAGES_MAGIC, md5s.get(img_path.name))  # (N, H, W)
        y = read_idx(lbl_path, LABELS_MAGIC, md5s.get(lbl_path.name))  # (N,)
        if len(x) != len(y):
            raise DatasetError(f"{img_path} holds {len(x)} images but {lbl_path} holds {len(y)} labels")
        if len(x) == 0:
            raise DatasetError(f"{img_path}: holds no images")
        if x.shape[1] != x.shape[2]:
            raise DatasetError(f"{img_path}: images are {x.shape[1]}x{x.shape[2]}; bakeoff needs square images")
        if y.size and y.max() >= len(classes):
            raise DatasetError(f"{lbl_path}: label {int(y.max())} is out of range for {name} (0..{len(classes) - 1})")
        arrays[split] = (torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DatasetError(f"{folder}: train images are {tuple(x_train.shape[2:])} "
                           f"but test images {tuple(x_test.shape[2:])}")
    return Dataset(name=name, classes=list(classes), x_train=x_train, y_train=y_train,
                   x_test=x_test, y_test=y_test, source=str(folder))


def read_idx(path: Path, magic: int, expected_md5: str | None = None) -> np.ndarray:
    """The uint8 array in one IDX file, gzipped or not; DatasetError names the file and the problem."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror or e})") from None
    if expected_md5 is not None:
        actual = hashlib.md5(raw).hexdigest()  # over the bytes already in memory: ~50 ms for the largest file
        if actual != expected_md5:
            raise DatasetError(f"{path}: md5 {actual} does not match the official {expected_md5}; "
                               f"the file is corrupt or not the official one (delete it and download again)")
    if raw[:2] == _GZIP_MAGIC:
        return _parse(_GzipStream(raw, path), magic, path)
    if path.suffix == ".gz":
        raise DatasetError(f"{path}: not a gzip file (starts with {raw[:4].hex()})")
    return _parse(_RawStream(raw), magic, path)


def _parse(stream, magic: int, path: Path) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4:
        raise DatasetError(f"{path}: too short for an IDX header ({len(head)} bytes)")
    (found,) = struct.unpack(">I", head)
    if found != magic:
        kind = "image" if magic == IMAGES_MAGIC else "label"
        raise DatasetError(f"{path}: bad magic number {found} (an IDX {kind} file starts with {magic})")
    ndim = magic & 0xFF
    dims_raw = stream.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DatasetError(f"{path}: IDX header cut short ({4 + len(dims_raw)} of {4 + 4 * ndim} bytes)")
    dims = struct.unpack(f">{ndim}I", dims_raw)
    expected = int(np.prod(dims, dtype=object))  # Python int: three uint32s can overflow int64
    if expected > stream.max_payload():
        raise DatasetError(f"{path}: header says {'x'.join(map(str, dims))} = {expected} bytes, "
                           f"more than the file can hold ({stream.max_payload()} bytes at most)")
    payload = stream.read(expected)
    if len(payload) < expected:
        if stream.ended():
            raise DatasetError(f"{path}: header says {'x'.join(map(str, dims))} = {expected} bytes "
                               f"but the payload holds only {len(payload)}")
        raise DatasetError(f"{path}: truncated gzip (ends after {len(payload)} of {expected} payload bytes)")
    if stream.read(1):
        raise DatasetError(f"{path}: payload is longer than the header's {'x'.join(map(str, dims))} = {expected} bytes")
    if not stream.ended():
        raise DatasetError(f"{path}: truncated gzip (the stream has no end)")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims).copy()  # copy: torch wants a writable array


class _RawStream:
    """Sequential reads from an un-gzipped IDX file in memory."""

    def __init__(self, raw: bytes):
        self.view, self.pos = memoryview(raw), 0

    def read(self, n: int) -> bytes | memoryview:
        out = self.view[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def max_payload(self) -> int:
        return len(self.view) - self.pos

    def ended(self) -> bool:
        return True


class _GzipStream:
    """Sequential reads that decompress only as much as asked for, so a lying header cannot blow up memory."""

    def __init__(self, raw: bytes, path: Path):
        self.raw, self.path = raw, path
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16+: expect a gzip header and trailer
        self.pending = raw

    def read(self, n: int) -> bytes:
        parts, got = [], 0
        while got < n and not self.inflate.eof:
            try:
                chunk = self.inflate.decompress(self.pending, n - got)
            except zlib.error as e:
                raise DatasetError(f"{self.path}: corrupt gzip ({e})") from None
            self.pending = self.inflate.unconsumed_tail
            parts.append(chunk)
            got += len(chunk)
            if not chunk and not self.pending:
                break  # input used up before the stream's end: truncated
        return b"".join(parts)

    def max_payload(self) -> int:
        return _MAX_DEFLATE_RATIO * len(self.raw)

    def ended(self) -> bool:
        if not self.inflate.eof and self.pending:
            self.read(1)  # let zlib read the trailer (CRC and length), which yields no data
        if self.inflate.eof and self.inflate.unused_data:
            raise DatasetError(f"{self.path}: {len(self.inflate.unused_data)} unexpected bytes after the gzip stream")
        return self.inflate.eof

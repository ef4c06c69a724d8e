"""Files that export and predict --explain write: never over an existing file unless asked, never over the
input they read, and one line (not an OSError traceback) when the place cannot be written."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import BakeoffError
from ..files import atomic_write_bytes


def check_destination(dest: Path, force: bool, sources: tuple[Path, ...] = ()) -> None:
    """Refuse `dest` before any work: a folder, one of `sources` (even with --force), or any file without it."""
    if dest.is_dir():
        raise BakeoffError(f"{dest} is a folder; --out takes a file name, e.g. {dest / 'model.onnx'}")
    for src in sources:
        if dest.exists() and src.exists() and os.path.samefile(dest, src):
            raise BakeoffError(f"{dest} is the checkpoint being read; choose another --out")
    if dest.exists() and not dest.is_file():  # /dev/full, a socket: a rename would replace the device itself
        raise BakeoffError(f"{dest} is not a regular file; --out takes a file name")
    if dest.exists() and not force:
        raise BakeoffError(f"{dest} exists; pass --force to replace it")
    parent = next((p for p in dest.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise BakeoffError(f"cannot write {dest}: {parent} is a file, not a folder")


def write_file(dest: Path, data: bytes) -> None:
    """Atomic write (a reader never sees half a file); OSError -> one line naming the place."""
    with writing(dest):
        atomic_write_bytes(dest, data)


@contextlib.contextmanager
def writing(dest: Path):
    """An OSError while writing `dest` (no permission, no space, a file where a folder should be) as one line."""
    try:
        yield
    except OSError as e:
        raise BakeoffError(f"cannot write {dest}: {e.strerror or type(e).__name__}") from None


def check_folder(folder: Path) -> None:
    """A folder that files will be written into: refused at once when it is a file or cannot be made."""
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)

"""Files other processes read, written whole or not at all; names made safe for a disk; write errors in one line.

Every file bakeoff writes goes through `atomic_write_bytes`: a reader (a report, a web server, a second
`compare` on the same folder) never sees half a file, and files get the mode the umask gives, as any other
program's would. A disk that is full or read-only is one clear line (`disk_errors`), never a traceback.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import BakeoffError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file.

    The file gets the mode a plain open() would give (0666 less the umask): mkstemp's 0600 would hide
    reports, figures and checkpoints from everyone else on a shared server or behind a web server.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _umask() -> int:
    """The process's umask, read without changing it (Linux /proc); else set and restored at once."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_json(path: Path) -> dict | None:
    """A JSON object from `path`, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_arrays(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Arrays of an .npz file, read into memory (pickled objects refused).

    Raises OSError (missing, unreadable), KeyError (a key absent) or ValueError (anything else wrong with
    the file: truncated, not a zip, a damaged member, pickled objects).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in (keys or z.files)}
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npz ({type(e).__name__}: {e})") from None


def file_safe(name: str) -> str:
    """A name made safe for a file or folder: runs of other characters become one '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-")


# Write errors that no retry fixes: reported as one line, runs already finished stay valid.
DISK_ERRORS = {errno.ENOSPC: "no space left", errno.EDQUOT: "disk quota exceeded", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.EROFS: "read-only file system",
               errno.EEXIST: "it exists and is not a folder", errno.ENOTDIR: "a file is in the way of a folder",
               errno.ENAMETOOLONG: "the name is too long", errno.EISDIR: "it is a folder, not a file"}


@contextlib.contextmanager
def disk_errors(out: Path):
    """Turn 'no space' / 'no permission' on the output folder into one clear line."""
    try:
        yield
    except OSError as e:
        if e.errno in DISK_ERRORS:
            where = e.filename or out
            kept = f"; runs that finished before are kept in {out}" if _is_dir(out) else ""
            raise BakeoffError(f"cannot write to {where}: {DISK_ERRORS[e.errno]}{kept}") from None
        raise


def _is_dir(path: Path) -> bool:
    try:
        return Path(path).is_dir()
    except OSError:  # a name too long to even look up
        return False

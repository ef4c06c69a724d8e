"""One process per run: an advisory file lock, so two `bakeoff compare` on one folder share the work."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from .errors import BakeoffError

# Write errors that no retry fixes: reported as one line, runs already finished stay valid.
DISK_ERRORS = {errno.ENOSPC: "no space left", errno.EDQUOT: "disk quota exceeded", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.EROFS: "read-only file system",
               errno.EEXIST: "it exists and is not a folder", errno.ENOTDIR: "a file is in the way of a folder",
               errno.ENAMETOOLONG: "the name is too long", errno.EISDIR: "it is a folder, not a file"}


@contextlib.contextmanager
def run_lock(path: Path, wait: bool = False):
    """Yield True while holding the lock file `path`; False at once when another process holds it (unless `wait`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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

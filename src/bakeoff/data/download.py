"""Download one file from a list of mirrors, verified by MD5 before it takes its final name."""
from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ..errors import DatasetError

# Base URLs, tried in order; the official file name is appended.
MIRRORS = {
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/"],
}
TIMEOUT_S = 5.0  # per connect/read: a machine without network fails within seconds, not minutes
CHUNK = 1 << 16  # bytes per read: 64 KiB keeps the progress bar lively and memory flat


def fetch(url_list: list[str], dest: Path, md5: str, quiet: bool = False) -> Path:
    """Download the first mirror that answers into `dest`, checking `md5`.

    Writes to `dest.part` and renames only once the checksum matches, so an
    interrupted or corrupt download never looks like a finished file.
    Raises DatasetError (one line, every mirror's failure) when none works.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    failures = []
    for url in url_list:
        try:
            actual = _download(url, part, quiet)
        except (OSError, ValueError) as e:  # URLError, timeouts, HTTP errors and bad URLs are all OSError/ValueError
            part.unlink(missing_ok=True)
            failures.append(f"{url}: {_one_line(e)}")
            continue
        if actual != md5:
            part.unlink(missing_ok=True)
            failures.append(f"{url}: md5 {actual} does not match the expected {md5}")
            continue
        os.replace(part, dest)  # atomic: `dest` exists only once verified
        return dest
    raise DatasetError(f"could not download {dest.name} ({'; '.join(failures) or 'no mirrors'})")


def _download(url: str, part: Path, quiet: bool) -> str:
    """Stream `url` into `part`; return the MD5 of what was written."""
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(part, "wb") as f:
        total = int(resp.headers.get("Content-Length") or 0) or None
        # stderr: stdout may carry a run's machine-readable output
        progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True, disable=quiet)
        with progress:
            task = progress.add_task(f"download {part.name[:-len('.part')]}", total=total)
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                digest.update(chunk)
                progress.advance(task, len(chunk))
    return digest.hexdigest()


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__

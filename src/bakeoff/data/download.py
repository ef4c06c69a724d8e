"""Download one file from a list of mirrors, verified by its checksum before it takes its final name."""
from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..errors import DatasetError, one_line

TIMEOUT_S = 5.0  # per connect/read: a machine without network fails within seconds, not minutes
CHUNK = 1 << 16  # bytes per read: 64 KiB keeps the progress bar lively and memory flat


def fetch(url_list: list[str], dest: Path, md5: str | None = None, quiet: bool = False, *,
          sha256_prefix: str | None = None) -> Path:
    """Download the first mirror that answers into `dest`, checking `md5` (or, for torchvision-style weight
    files, the first hex digits of the SHA-256 that their name carries).

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
            digests = _download(url, part, quiet)
        except (OSError, ValueError) as e:  # URLError, timeouts, HTTP errors and bad URLs are all OSError/ValueError
            part.unlink(missing_ok=True)
            failures.append(f"{url}: {one_line(e)}")
            continue
        mismatch = _mismatch(digests, md5, sha256_prefix)
        if mismatch:
            part.unlink(missing_ok=True)
            failures.append(f"{url}: {mismatch}")
            continue
        os.replace(part, dest)  # atomic: `dest` exists only once verified
        return dest
    raise DatasetError(f"could not download {dest.name} ({'; '.join(failures) or 'no mirrors'})")


def _mismatch(digests: dict[str, str], md5: str | None, sha256_prefix: str | None) -> str:
    """Why the file is not the expected one, or '' when every given checksum matches."""
    if md5 is not None and digests["md5"] != md5:
        return f"md5 {digests['md5']} does not match the expected {md5}"
    if sha256_prefix is not None and not digests["sha256"].startswith(sha256_prefix):
        return f"sha256 {digests['sha256'][:16]}... does not start with the expected {sha256_prefix}"
    return ""


def _download(url: str, part: Path, quiet: bool) -> dict[str, str]:
    """Stream `url` into `part`; return the MD5 and SHA-256 of what was written."""
    digest, sha256 = hashlib.md5(), hashlib.sha256()
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
                sha256.update(chunk)
                progress.advance(task, len(chunk))
    return {"md5": digest.hexdigest(), "sha256": sha256.hexdigest()}

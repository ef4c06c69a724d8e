"""Where downloadable datasets are looked for: --data-dir, then $BAKEOFF_DATA, then the cache."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

ENV_VAR = "BAKEOFF_DATA"


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/bakeoff`, or `~/.cache/bakeoff`: where downloads go."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "bakeoff"


def cache_dir(name: str) -> Path:
    return cache_root() / name


def search_roots(data_dir: str | Path | None) -> list[Path]:
    """The roots searched, in order; each may hold the files itself or in a `<name>/` folder."""
    roots = [Path(data_dir).expanduser()] if data_dir else []
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]).expanduser())
    roots.append(cache_root())
    return roots


def locate(folders: list[str], find: Callable[[Path], Path | None],
           data_dir: str | Path | None = None) -> tuple[Path | None, list[Path]]:
    """(what `find` found or None, the folders looked in): in each root, its sub-folders `folders`, then itself."""
    looked = []
    for root in search_roots(data_dir):
        for folder in [root / sub for sub in folders] + [root]:
            looked.append(folder)
            found = find(folder)
            if found is not None:
                return found, looked
    return None, looked


def how_to_supply(name: str, files: str) -> str:
    """One sentence telling the user where to put the files."""
    return f"supply the files with --data-dir DIR (or {ENV_VAR}=DIR) where DIR/{name}/ holds {files}"

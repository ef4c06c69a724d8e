"""Where the downloadable datasets are looked for: --data-dir, then $BAKEOFF_DATA, then the cache."""
from __future__ import annotations

import os
from pathlib import Path

from . import cifar, idx

ENV_VAR = "BAKEOFF_DATA"
# Folder names accepted under a data dir, besides the dataset's own name.
FOLDER_ALIASES = {"cifar10": ["cifar10", "cifar-10"]}


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


def locate(name: str, data_dir: str | Path | None = None) -> tuple[Path | None, list[Path]]:
    """(source found or None, the folders looked in) for fashion-mnist, mnist or cifar10."""
    looked = []
    for root in search_roots(data_dir):
        for folder in [root / sub for sub in FOLDER_ALIASES.get(name, [name])] + [root]:
            looked.append(folder)
            found = _find_in(name, folder)
            if found is not None:
                return found, looked
    return None, looked


def _find_in(name: str, folder: Path) -> Path | None:
    if name == "cifar10":
        return cifar.find_cifar(folder)
    return folder if folder.is_dir() and idx.has_idx_files(folder) else None


def how_to_supply(name: str) -> str:
    """One sentence telling the user where to put the files."""
    if name == "cifar10":
        files = f"{cifar.BATCHES_DIR}/, {cifar.TAR_NAME} or {cifar.NPZ_NAME}"
    else:
        files = ", ".join(idx.GZ_NAMES)
    return f"supply the files with --data-dir DIR (or {ENV_VAR}=DIR) where DIR/{name}/ holds {files}"

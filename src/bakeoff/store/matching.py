"""Whether a run folder holds the result of this very run: its saved settings compared after normalizing.

Settings are compared as the run would use them, not as they were typed: `--data-dir data/` and
`--data-dir data` name one folder, and a dataset that never reads --data-dir (digits, arrays:, folder:)
is the same run whatever it says. Comparing the text retrained, and overwrote, every finished run.
"""
from __future__ import annotations

from pathlib import Path

from ..config import RunConfig
from ..data.registry import builtin_name, DATASETS
from ..errors import BakeoffError


def normalized(config: dict) -> dict:
    """A config dict as the run would use it: defaults filled in, paths resolved, unread settings dropped.

    Raises BakeoffError (or TypeError) when `config` is not a valid RunConfig.
    """
    d = RunConfig.from_dict(config).to_dict()  # options added by later versions take their defaults
    name = str(d["dataset"])
    builtin = builtin_name(name)
    if builtin is not None:
        d["dataset"] = builtin  # 'Fashion_MNIST' is fashion-mnist
    for prefix in ("arrays:", "folder:"):
        if name.startswith(prefix):
            d["dataset"] = prefix + _resolved(name[len(prefix):])
    reads_data_dir = builtin is not None and DATASETS[builtin].files != "bundled"
    d["data_dir"] = _resolved(d["data_dir"]) if reads_data_dir and d["data_dir"] is not None else None
    if d["weights"] is not None:
        d["weights"] = _resolved(d["weights"])
    if d["pretrained"] not in ("none", "imagenet"):
        d["pretrained"] = _resolved(d["pretrained"])
    return d


def same_run(saved: dict | None, cfg: RunConfig) -> bool:
    """True when `saved` (a run folder's config.json) describes the run `cfg` describes."""
    if not isinstance(saved, dict):
        return False
    try:
        return normalized(saved) == normalized(cfg.to_dict())
    except (BakeoffError, TypeError, ValueError):  # a config.json written by hand, or by a foreign tool
        return False


def _resolved(path: str) -> str:
    """An absolute path without `..`, `.` or a trailing slash; the file need not exist."""
    return str(Path(path).expanduser().resolve())

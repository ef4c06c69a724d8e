"""Grid YAML files: read into flat option names, refused in one line when they are not what a grid file is."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import ConfigError, unknown_choice
from .axes import GRID_AXES, NOT_OPTIONS, SCORING_OPTIONS
from .grid import RUN_FIELD_NAMES


def parse_list(text: str, cast=str) -> list:
    """'a,b, c' -> ['a', 'b', 'c'], cast to a type; a clear error on a bad item."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ConfigError(f"empty list: '{text}'")
    try:
        return [cast(t) for t in items]
    except ValueError:
        raise ConfigError(f"cannot read '{text}' as a comma-separated list of {cast.__name__}") from None


MAX_GRID_FILE_BYTES = 1_000_000


def load_grid_file(path: str | Path) -> dict:
    """Read a grid YAML file into flat option names (dashes or underscores both accepted).

    YAML anchors and aliases are refused: a grid file needs none, and nested aliases ("billion laughs")
    expand to gigabytes in whatever walks the result.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"grid file not found: {p}")
    if p.stat().st_size > MAX_GRID_FILE_BYTES:
        raise ConfigError(f"{p}: {p.stat().st_size:,} bytes; a grid file may hold at most {MAX_GRID_FILE_BYTES:,}")
    try:
        text = p.read_text()
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise ConfigError(f"{p}: YAML aliases (*name) are not allowed in a grid file; write the values out")
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of option names to values")
    valid = (set(GRID_AXES) | set(RUN_FIELD_NAMES) | set(SCORING_OPTIONS) | {"out"}) - set(GRID_AXES.values()) \
        - set(NOT_OPTIONS)
    out = {}
    for key, value in raw.items():
        k = str(key).replace("-", "_")
        if k not in valid:
            raise unknown_choice(f"key in {p.name}:", f"{key!s:.60}", valid)
        if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
            raise ConfigError(f"{p.name}: {key}: a list of single values is expected, not nested lists or mappings")
        if isinstance(value, dict):
            raise ConfigError(f"{p.name}: {key}: expected a value or a list of values, not a mapping")
        out[k] = value
    return out



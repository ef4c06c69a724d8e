"""Option values as users write them, read into the type each option means.

A grid file and a comma list on the command line reach the configuration as text or as whatever YAML made of
it: PyYAML reads `5e-4` and `1e2` as strings (YAML 1.1 wants a dot in a float), and `epochs: 1.5` as a float.
Numbers are read the way a user means them (`1e2` epochs is 100), and a fraction where a whole number is
meant, a list or mapping where one value is meant, NaN or infinity are refused in one line.
"""
from __future__ import annotations

import math
import re
import reprlib

from ..errors import ConfigError

TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
BUDGET_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 40, 40


def read_value(name: str, kind: str, value, optional: bool):
    """`value` as the type `kind` ('int', 'float', 'bool', 'str'); None only where the option is optional."""
    shown = name.replace("_", "-")
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "~", "")
                         and optional and kind != "str"):
        if optional:
            return None
        raise ConfigError(f"{shown}: a value is needed here, got nothing")
    if isinstance(value, (list, tuple, dict, set)):
        raise ConfigError(f"{shown}: expected one {_kind_words(kind)}, got a {type(value).__name__} "
                          f"({short_repr(value)})")
    if kind == "bool":
        return _read_bool(shown, value)
    if kind == "str":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"{shown}: expected text, got {short_repr(value)}")
        return str(value)
    number = _read_number(shown, value)
    if kind == "float":
        return number
    if number != int(number):
        raise ConfigError(f"{shown}: expected a whole number, got {short_repr(value)}")
    return int(number)


def read_time_budget(value) -> float | None:
    """'60s', '2m', '1.5h' or a number of seconds -> seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([a-z]*)\s*", str(value))
        if not match or match.group(2) not in BUDGET_UNITS:
            raise ConfigError(f"--time-budget: expected a duration such as 60s, 5m or 1h, got {short_repr(value)}")
        seconds = _read_number("--time-budget", match.group(1)) * BUDGET_UNITS[match.group(2)]
    if not 0 < seconds <= 7 * 86400:
        raise ConfigError(f"--time-budget must be more than 0 s and at most a week, got {short_repr(value)}")
    return seconds


def _read_number(shown: str, value) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{shown}: expected a number, got {value}")
    if isinstance(value, int) and abs(value) >= 2 ** 63:
        raise ConfigError(f"{shown}: {short_repr(value)} is out of range")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip().replace("_", ""))
        except ValueError:
            raise ConfigError(f"{shown}: expected a number, got {short_repr(value)}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{shown}: expected a finite number, got {short_repr(value)}")
    return number


def _read_bool(shown: str, value) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{shown}: expected true or false, got {short_repr(value)}")


def _kind_words(kind: str) -> str:
    return {"int": "whole number", "float": "number", "bool": "true/false", "str": "text value"}[kind]


def short_repr(value) -> str:
    """A value for an error message, never long (a grid file may hold anything)."""
    text = _REPR.repr(value)  # bounded depth and length: nested YAML aliases must not expand here
    return text if len(text) <= 60 else text[:57] + "..."

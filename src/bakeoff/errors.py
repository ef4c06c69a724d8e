"""Errors that reach the user as one line on stderr and exit status 2 (see cli.main)."""
from __future__ import annotations


class BakeoffError(Exception):
    """A problem with the user's input: its message is the whole story, no traceback."""


class DatasetError(BakeoffError):
    """A dataset is missing, corrupt, or not in a format bakeoff reads."""


class ConfigError(BakeoffError):
    """An unknown option, model, optimizer or a value out of range."""


def unknown_choice(kind: str, value: str, choices) -> ConfigError:
    """`unknown model 'resnt'; choose from: cnn4, mlp, ...` as one error."""
    return ConfigError(f"unknown {kind} '{value}'; choose from: {', '.join(sorted(choices))}")


def one_line(e: BaseException, limit: int | None = None) -> str:
    """An exception's message on one line (whitespace runs collapsed), or its type's name when it has none.

    `limit` cuts it to that many characters: a library's message about untrusted bytes can quote them at length.
    """
    text = " ".join(str(e).split()) or type(e).__name__
    return text if limit is None else text[:limit]

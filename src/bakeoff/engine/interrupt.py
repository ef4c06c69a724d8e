"""Graceful stop on SIGINT / SIGTERM: the current step finishes, the run is saved, exit 130 / 143."""
from __future__ import annotations

import contextlib
import signal

_requested: int | None = None  # the signal number asked to stop, if any


class Interrupted(Exception):
    """Raised between training steps after SIGINT or SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def check() -> None:
    """Raise Interrupted if a stop was asked for since the last check."""
    if _requested is not None:
        raise Interrupted(_requested)


def _handler(signum, frame):
    global _requested
    if _requested is not None and signum == signal.SIGINT:
        raise KeyboardInterrupt  # a second Ctrl-C stops at once
    _requested = signum


@contextlib.contextmanager
def graceful_signals():
    """Within this block SIGINT and SIGTERM request a stop instead of killing the process."""
    global _requested
    _requested = None
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _requested = None

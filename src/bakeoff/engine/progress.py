"""Per-epoch progress bars (rich), silent when stderr is not a terminal or with --quiet."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class EpochProgress:
    """One bar per epoch showing running loss and accuracy; a no-op when quiet."""

    def __init__(self, quiet: bool = False, label: str = ""):
        self.enabled = not quiet and sys.stderr.isatty()
        self.label = label
        self._progress = None
        self._task = None

    def start(self, epoch: int, epochs: int, steps: int) -> None:
        if not self.enabled:
            return
        self._progress = Progress(
            TextColumn(f"{self.label} epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("train", total=steps, stats="")

    def update(self, steps_done: int, loss: float, acc: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=steps_done, stats=f"loss {loss:.4f} acc {acc:.4f}")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

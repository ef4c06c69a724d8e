"""Per-epoch progress: rich bars in a terminal, one Keras-style line per epoch anywhere else, nothing with --quiet.

Anywhere else is a pipe, a log file under nohup or CI, and a Jupyter notebook: rich's live display in a notebook
needs ipywidgets (not a dependency) and otherwise reprints the bar on every refresh, so a notebook gets the lines.
"""
from __future__ import annotations

import math
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (a notebook's stderr is not, whatever the kernel says)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


def epoch_line(row: dict, epoch: int, epochs: int) -> str:
    """`epoch 3/10 - 12.4s - loss 0.412 - acc 0.853 - val_loss 0.398 - val_acc 0.861`, as Keras prints it;
    accuracy is left out for reconstruction stages (NaN) and validation without a validation split."""
    parts = [f"epoch {epoch}/{epochs}", f"{row['seconds']:.1f}s", f"loss {row['train_loss']:.3f}"]
    for key, label in (("train_acc", "acc"), ("val_loss", "val_loss"), ("val_acc", "val_acc")):
        value = row.get(key)
        if value is not None and not math.isnan(value):
            parts.append(f"{label} {value:.3f}")
    return " - ".join(parts)


class EpochProgress:
    """One bar per epoch showing running loss and accuracy in a terminal; a line per finished epoch elsewhere."""

    def __init__(self, quiet: bool = False, label: str = ""):
        self.bars = not quiet and stderr_is_terminal()
        self.lines = not quiet and not self.bars
        self.label = label
        self._progress = None
        self._task = None

    def start(self, epoch: int, epochs: int, steps: int) -> None:
        if not self.bars:
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

    def epoch_done(self, row: dict, epoch: int, epochs: int, stage: str = "") -> None:
        """After validation, where there are no bars: the epoch's line (`epoch` of this stage's `epochs`, numbers
        from its history row), flushed at once so a log shows it as it happens."""
        if self.lines:
            prefix = f"{stage}: " if stage else ""
            print(prefix + epoch_line(row, epoch, epochs), file=sys.stderr, flush=True)

"""Where a grid is: `run 3 of 12: cnn4_adam_lr0.001_noaug_seed0 (about 4 min left)`, one line as each run starts.

The time left is the runs still to train times the time per run so far: the wall time since the first run
started over the runs finished since, so runs trained side by side (the Ray executor) count as they finish.
"""
from __future__ import annotations

import time
from typing import Callable


def duration(seconds: float) -> str:
    """Rounded as a person reads a wait: '40 s', '4 min', '1 h 20 min'."""
    if seconds < 60:
        return f"{max(seconds, 1):.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


class GridProgress:
    """Says each run's place in the grid and, once one has finished, about how long the rest will take."""

    def __init__(self, total: int, to_train: int, say: Callable[[str], None]):
        self.total = total  # runs in the grid
        self.to_train = to_train  # of those, not finished before this compare began
        self.say = say
        self.finished = 0
        self.first_start: float | None = None

    def starting(self, index: int, run_id: str) -> None:
        """Run number `index` (1-based, in grid order) is about to train."""
        now = time.perf_counter()
        if self.first_start is None:
            self.first_start = now
        line = f"run {index} of {self.total}: {run_id}"
        left = self.seconds_left(now)
        if left is not None:
            line += f" (about {duration(left)} left)"
        self.say(line)

    def done(self) -> None:
        """A run this process started has finished (or failed)."""
        self.finished += 1

    def seconds_left(self, now: float) -> float | None:
        """None until a run has finished; then the runs left (this one included) x seconds per run so far."""
        if not self.finished or self.first_start is None:
            return None
        per_run = (now - self.first_start) / self.finished
        return per_run * max(self.to_train - self.finished, 1)

    def announce(self, claims, runs: list):
        """Pass the runs `claims` yields through, saying each one's place in `runs` as it is handed on."""
        order = {cfg.run_id: i for i, cfg in enumerate(runs, 1)}
        for cfg in claims:
            self.starting(order.get(cfg.run_id, 0), cfg.run_id)
            yield cfg

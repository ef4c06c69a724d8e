"""A whole comparison from flat options: one grid per dataset, each trained, analysed, reported and tracked, and
the report across datasets when there are several. `bakeoff compare` and `bakeoff.compare(...)` both run this.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Callable

from ..engine.interrupt import graceful_signals, Interrupted
from ..models.options import grid_runs
from ..report import build_cross_dataset_report
from ..tracking import track_comparison, tracking_targets
from .executors import make_executor
from .grid import run_grid
from .plan import grids_from_options, with_photo_class_map


def run_comparison(options: dict, *, quiet: bool = False, robustness: bool = True, track=None,
                   mlflow_uri: str | None = None, executor: str = "local", ray_address: str | None = None,
                   cpus_per_run: int | None = None, gpus_per_run: float = 0, after_grid: Callable | None = None,
                   say: Callable[[str], None] = print) -> Path:
    """`compare` from flat options (a grid file's keys and the arguments given, as the user wrote them); returns
    the comparison folder (OUT, or the folder of the report across datasets).

    One grid per dataset; `after_grid(grid, rows)` is called as each finishes (the command line prints
    its leaderboard there). Raises `Interrupted` on SIGINT/SIGTERM inside `interrupt.graceful_signals()`.
    """
    grids, across = grids_from_options(with_photo_class_map(options))
    for grid, _ in grids:
        grid_runs(grid)  # a bad option fails here, before a cluster is started or a dataset is loaded
    targets = tracking_targets(track, mlflow_uri)  # and a tracker that is not installed
    runner = make_executor(executor, ray_address, cpus_per_run, gpus_per_run)
    for grid, grid_out in grids:
        rows = run_grid(grid, grid_out, quiet=quiet, executor=runner, robustness=robustness)
        track_comparison(grid_out, targets, mlflow_uri, (lambda _: None) if quiet else say)  # --quiet: the table only
        if after_grid is not None:
            after_grid(grid, rows)
    if across is None:
        return grids[0][1]
    path = build_cross_dataset_report(across, [grid_out for _, grid_out in grids])
    say(f"across {len(grids)} datasets: {path}")
    return across


@contextlib.contextmanager
def stop_after_step():
    """Ctrl-C (Jupyter's stop button) ends training after the current step, the run saved for resuming,
    as on the command line; then it is a KeyboardInterrupt. Signals can only be caught in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        with graceful_signals():
            yield
    except Interrupted as e:
        raise KeyboardInterrupt(f"{e}; finished runs are kept and the same call resumes the rest") from None

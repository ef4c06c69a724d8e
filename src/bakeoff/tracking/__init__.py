"""Experiment tracking: a finished comparison's runs logged to MLflow and/or TensorBoard.

Logged from the comparison folder after the grid ends, not from inside training: the run folders already
hold everything (config.json, history.csv, metrics.json, best.pt), runs trained by Ray workers or by an
earlier, resumed compare are logged the same way, and a tracking server that is down never stops a run.
Both libraries are optional (`pip install -e '.[track]'`) and imported only here.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, unknown_choice
from ..store.comparison import collect
from .mlflow_log import log_to_mlflow
from .tensorboard_log import log_to_tensorboard

TRACKERS = {"mlflow": "mlflow", "tensorboard": "tensorboard"}  # --track name: the module it needs


def tracking_targets(track, mlflow_uri: str | None = None) -> list[str]:
    """The trackers asked for (`--track mlflow,tensorboard`, a list from the API; `--mlflow-uri` implies
    mlflow), checked now, before any training: unknown names and libraries that are not installed."""
    if track is None or track == "":
        names = []
    elif isinstance(track, str):
        names = [t.strip() for t in track.split(",") if t.strip()]
    elif isinstance(track, (list, tuple)) and all(isinstance(t, str) for t in track):
        names = list(track)
    else:
        raise ConfigError(f"track: expected 'mlflow', 'tensorboard' or a list of them, got {track!r:.60}")
    if mlflow_uri is not None and "mlflow" not in names:
        names.append("mlflow")
    for name in names:
        if name not in TRACKERS:
            raise unknown_choice("tracker", name, TRACKERS)
        if importlib.util.find_spec(TRACKERS[name]) is None:
            raise ConfigError(f"--{name} needs the {name} package: pip install -e '.[track]' "
                              f"(or pip install {'mlflow-skinny' if name == 'mlflow' else 'tensorboard'})")
    return list(dict.fromkeys(names))


def track_comparison(out: Path, targets: list[str], mlflow_uri: str | None = None,
                     say: Callable[[str], None] = print) -> None:
    """Log every finished or failed run of the comparison in OUT to each target."""
    if not targets:
        return

    cmp = collect(out)
    if "mlflow" in targets:
        uri, experiment = log_to_mlflow(cmp, mlflow_uri)
        say(f"mlflow: {len(cmp.runs)} runs in experiment '{experiment}' at {uri} (mlflow ui --backend-store-uri {uri})")
    if "tensorboard" in targets:
        logdir = log_to_tensorboard(cmp)
        say(f"tensorboard: event files in {logdir} (tensorboard --logdir {logdir})")

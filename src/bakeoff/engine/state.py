"""Everything a run needs to continue exactly where it stopped, saved after every epoch.

A run killed at epoch 9 of 10 resumes at epoch 10 with the same weights, optimizer and
schedule state, early-stopping counters and random-number streams, so it ends with the
same metrics as a run never interrupted (same seed, CPU).
"""
from __future__ import annotations

import copy
import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..errors import BakeoffError, one_line
from ..runfolder import atomic_write_bytes


@dataclass
class TrainState:
    """The loop's own bookkeeping; weights and optimizer state are saved beside it."""

    epoch: int = 0  # epochs completed
    history: list[dict] = field(default_factory=list)
    best_loss: float = math.inf
    best_epoch: int = 0
    since_best: int = 0
    train_seconds: float = 0.0
    stopped_early: bool = False
    best_weights: dict | None = None  # state_dict of the best epoch so far


def save_state(path: Path, state: TrainState, config: dict, model, optimizer, schedule,
               generators: dict[str, torch.Generator]) -> None:
    payload = {
        "config": config,
        "loop": {k: v for k, v in asdict(state).items() if k != "best_weights"},
        "best_weights": state.best_weights,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict() if schedule is not None else None,
        "torch_rng": torch.get_rng_state(),  # dropout masks
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {name: g.get_state() for name, g in generators.items()},  # data order, augmentation
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: Path, config: dict, model, optimizer, schedule,
               generators: dict[str, torch.Generator]) -> TrainState | None:
    """Restore a saved state into the given objects; None when there is none for this exact config.

    A state saved under other settings is not this run's: the run starts over (and overwrites it). A file
    that cannot be read as a state is refused in one line rather than silently trained over.
    """
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a state file from a crash mid-write cannot exist (atomic), but a foreign one can
        raise _unreadable(path, one_line(e)) from None
    if not isinstance(payload, dict) or not {"config", "loop", "model", "optimizer", "generators"} <= payload.keys():
        raise _unreadable(path, "not a bakeoff training state")
    if payload["config"] != config:
        return None
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    if schedule is not None and payload["schedule"] is not None:
        schedule.load_state_dict(payload["schedule"])
    torch.set_rng_state(payload["torch_rng"])
    if payload["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    for name, g in generators.items():
        g.set_state(payload["generators"][name])
    return TrainState(**payload["loop"], best_weights=payload["best_weights"])


def _unreadable(path: Path, why: str) -> BakeoffError:
    return BakeoffError(f"{path}: cannot resume from this saved training state ({why[:160]}); "
                        f"delete it to train the run from the start")


def snapshot(model) -> dict:
    """A detached copy of the weights (best epoch so far)."""
    return copy.deepcopy(model.state_dict())

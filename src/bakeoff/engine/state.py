"""Everything a run needs to continue exactly where it stopped, saved after every epoch.

A run killed at epoch 9 of 10 resumes at epoch 10 with the same weights, optimizer and
schedule state, early-stopping counters and random-number streams, so it ends with the
same metrics as a run never interrupted (same seed, CPU).
"""
from __future__ import annotations

import copy
import io
import math
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from ..errors import one_line
from ..files import atomic_write_bytes


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
    that is not a state of this run (unreadable, damaged, or tampered with: `epoch: 999` of a 2-epoch run,
    weights of other shapes) is refused in one line on stderr and the run starts over, rather than stall
    the grid or be trusted.
    """
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a state file from a crash mid-write cannot exist (atomic), but a foreign one can
        return _refuse(path, one_line(e))
    if (not isinstance(payload, dict) or not {"config", "loop", "model", "optimizer", "generators"} <= payload.keys()
            or not isinstance(payload["config"], dict)):
        return _refuse(path, "not a bakeoff training state")
    if payload["config"] != config:
        return None
    why = check_payload(payload, config, model, generators)
    if why:
        return _refuse(path, why)
    before = {"model": copy.deepcopy(model.state_dict()), "optimizer": copy.deepcopy(optimizer.state_dict()),
              "schedule": copy.deepcopy(schedule.state_dict()) if schedule is not None else None,
              "torch_rng": torch.get_rng_state(), "generators": {n: g.get_state() for n, g in generators.items()}}
    try:
        _restore(payload, model, optimizer, schedule, generators)
    except Exception as e:  # loaded safely (weights_only) but does not fit these objects: start from scratch
        _restore(before, model, optimizer, schedule, generators)
        return _refuse(path, one_line(e))
    return TrainState(**payload["loop"], best_weights=payload["best_weights"])


def _restore(payload: dict, model, optimizer, schedule, generators: dict[str, torch.Generator]) -> None:
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    if schedule is not None and payload.get("schedule") is not None:
        schedule.load_state_dict(payload["schedule"])
    torch.set_rng_state(payload["torch_rng"])
    if payload.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    for name, g in generators.items():
        g.set_state(payload["generators"][name])


def check_payload(payload: dict, config: dict, model, generators: dict) -> str | None:
    """Why a saved state cannot be this run's (one phrase), or None: the loop's counters within the
    run's epochs, and every weight tensor of the shape the model has."""
    loop = payload["loop"]
    names = {f.name for f in fields(TrainState)} - {"best_weights"}
    if not isinstance(loop, dict) or set(loop) != names:
        return "its loop counters are not bakeoff's"
    epochs = config.get("epochs")
    epoch, history, best = loop["epoch"], loop["history"], loop["best_epoch"]
    if not (_is_int(epoch) and 1 <= epoch <= epochs):
        return f"epoch {str(epoch)[:20]} is not within the run's 1..{epochs}"
    if not (isinstance(history, list) and len(history) == epoch and all(isinstance(r, dict) for r in history)):
        return f"its history does not hold the {epoch} epochs it claims"
    if not (_is_int(best) and 0 <= best <= epoch and _is_int(loop["since_best"])):
        return f"best epoch {str(best)[:20]} is not one of its {epoch} epochs"
    if not isinstance(loop["stopped_early"], bool) or not isinstance(loop["best_loss"], (int, float)):
        return "its early-stopping counters are not bakeoff's"
    if not isinstance(payload["generators"], dict) or not set(generators) <= set(payload["generators"]):
        return "its random streams are not this run's"
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for key in ("model", "best_weights"):
        weights = payload.get(key)
        if key == "best_weights" and weights is None and best == 0:
            continue  # no epoch has improved on the validation loss yet
        if not isinstance(weights, dict) or {k: _shape(v) for k, v in weights.items()} != expected:
            return f"its {key.replace('_', ' ')} do not have this model's layers and shapes"
    return None


def _shape(v) -> tuple | None:
    return tuple(v.shape) if isinstance(v, torch.Tensor) else None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _refuse(path: Path, why: str) -> None:
    """Say in one line why a saved state is not resumed; the run then starts over and overwrites it."""
    print(f"bakeoff: warning: {path}: not resumed, not this run's training state ({why[:160]}); "
          f"training the run from the start", file=sys.stderr)
    return None


def snapshot(model) -> dict:
    """A detached copy of the weights (best epoch so far)."""
    return copy.deepcopy(model.state_dict())

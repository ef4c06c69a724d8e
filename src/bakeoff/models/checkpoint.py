"""Checkpoints that rebuild their model alone: name, kwargs, weights, classes and how inputs are fed."""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import BakeoffError, one_line
from ..files import atomic_write_bytes
from ..store.runfolder import CHECKPOINT_FILE
from .checkpoint_check import check_checkpoint, CheckpointError
from .registry import create_model


def save_checkpoint(path: Path, model: nn.Module, *, model_name: str, model_kwargs: dict, classes: list[str],
                    preprocessing: dict, config: dict, metrics: dict | None = None) -> None:
    """Everything needed to rebuild and feed the model: name, kwargs, weights, classes, preprocessing."""
    state = {
        "model": model_name,
        "model_kwargs": model_kwargs,  # num_classes, in_chans, img_size (+ the model's own options)
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "classes": list(classes),
        "preprocessing": preprocessing,  # dataset, in_chans, img_size, mean, std (0..1 scale), weights' origin
        "config": config,
        "metrics": metrics or {},
        "versions": {"torch": str(torch.__version__)},
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def add_to_checkpoint(path: str | Path, **fields) -> None:
    """Plain values measured after training (the calibration `temperature`) written into a checkpoint, atomically."""
    p = checkpoint_path(path)
    ckpt = load_checkpoint(p)
    buf = io.BytesIO()
    torch.save({**ckpt, **fields}, buf)
    atomic_write_bytes(p, buf.getvalue())


def checkpoint_path(path: str | Path) -> Path:
    """best.pt for a checkpoint given as the file or its run folder."""
    p = Path(path)
    return p / CHECKPOINT_FILE if p.is_dir() else p


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with `weights_only=True`: tensors and plain data only, never code."""
    p = checkpoint_path(path)
    if not p.is_file():
        raise BakeoffError(f"checkpoint not found: {p}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only met a global that is not a tensor or plain data
        raise BakeoffError(f"{p}: refused to load: it holds Python objects that could run code; "
                           "a bakeoff checkpoint holds only tensors and plain data") from None
    except Exception as e:  # truncated zip, not a torch file
        if not zipfile.is_zipfile(p):  # torch.save writes a zip archive; anything else fails obscurely
            raise BakeoffError(f"{p}: not a bakeoff checkpoint (not a file written by torch.save)") from None
        raise BakeoffError(f"{p}: not a readable bakeoff checkpoint ({str(e).splitlines()[0][:200]})") from None
    check_checkpoint(ckpt, p)  # once, here: whatever uses it next may trust its keys, types and shapes
    return ckpt


def model_from_checkpoint(ckpt: dict) -> nn.Module:
    """Rebuild the model of a loaded checkpoint, weights restored, in eval mode."""
    model = create_model(ckpt["model"], **ckpt["model_kwargs"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, TypeError) as e:  # shapes were checked on load; a tensor that cannot be cast remains
        raise CheckpointError(f"its weights do not load into a {ckpt['model']}: {one_line(e, limit=200)}") from None
    return model.eval()

"""How a run is built, fed and trained beyond plain `fit`: the runner's one entry into transfer learning
(engine/transfer.py) and the autoencoder's stages (engine/autoencoder_fit.py).

For a run with default options every function here is a no-op or plain `fit`, so ordinary runs are
unchanged. history.csv rows carry a `stage`: empty for one-stage training; 'head' (--freeze backbone),
'finetune' (--finetune-blocks); the autoencoder's 'reconstruct', 'classify', 'finetune'.
"""
from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from .loop import FitResult, Split, fit
from .transfer import fit_finetune, fit_frozen, input_stats, load_pretrained, model_options

__all__ = ["input_stats", "model_options", "load_pretrained", "train_model", "after_training"]


def is_autoencoder(model: nn.Module) -> bool:
    return hasattr(model, "reconstruct")


def train_model(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, mean: list[float],
                std: list[float], on_epoch=None, quiet: bool = False, **fit_kwargs) -> tuple[FitResult, dict]:
    """Train as the options say; returns fit's result and extra metrics (feature cache, trainable parameters).

    `mean`/`std`: the inputs' normalization (0..1 scale), for the autoencoder's --denoise noise.
    `fit_kwargs` (e.g. state_path, to resume) reach `fit` for one-stage training; the autoencoder's
    stages start over when a run is resumed.
    """
    if is_autoencoder(model):
        from .autoencoder_fit import fit_autoencoder

        return fit_autoencoder(model, train, val, cfg, device, precision, mean=mean, std=std, on_epoch=on_epoch,
                               quiet=quiet)
    if cfg.freeze == "backbone":
        return fit_frozen(model, train, val, cfg, device, precision, on_epoch=on_epoch, quiet=quiet, **fit_kwargs)
    if cfg.finetune_blocks:
        return fit_finetune(model, train, val, cfg, device, precision, on_epoch=on_epoch, quiet=quiet, **fit_kwargs)
    return fit(model, train, val, cfg, device, precision, on_epoch=on_epoch, quiet=quiet, **fit_kwargs), {}


def after_training(model: nn.Module, cfg, *, mean: list[float], std: list[float], classes: list[str], train: Split,
                   test: Split, run_dir: Path, device, precision) -> dict:
    """Outputs beyond predictions: the autoencoder's figures and its autoencoder-vs-PCA metrics."""
    if not is_autoencoder(model):
        return {}
    from .autoencoder_fit import unsupervised_outputs

    return unsupervised_outputs(model, cfg, mean, std, classes, train, test, run_dir, device, precision)

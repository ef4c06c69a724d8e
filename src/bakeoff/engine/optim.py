"""Optimizers and learning-rate schedules by name."""
from __future__ import annotations

import torch

from ..config import RunConfig


def build_optimizer(params, cfg: RunConfig) -> torch.optim.Optimizer:
    """The optimizer named by `cfg.optimizer`, with `cfg.lr` and `cfg.weight_decay`."""
    wd = cfg.weight_decay
    # Fused kernels update all parameters in one pass: on 2 CPU cores Adam's step on seed 004's
    # 29M-parameter model drops from ~112 ms to ~14 ms per batch. Same arithmetic, same results.
    fused = {"fused": True}
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=wd, **fused)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=wd, **fused)
    if cfg.optimizer == "rmsprop":
        # Keras' RMSprop defaults (rho 0.9, eps 1e-7), as the seeds used it; no momentum unless asked.
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9, eps=1e-7, weight_decay=wd, foreach=True)
    if cfg.optimizer == "adadelta":
        # Keras' Adadelta: rho 0.95, eps 1e-7 (PyTorch's default rho is 0.9).
        return torch.optim.Adadelta(params, lr=cfg.lr, rho=0.95, eps=1e-7, weight_decay=wd, foreach=True)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0,
                               weight_decay=wd, **fused)
    raise AssertionError(f"unvalidated optimizer {cfg.optimizer}")


def build_schedule(opt: torch.optim.Optimizer, cfg: RunConfig, steps_per_epoch: int, total_steps: int | None = None):
    """A per-step schedule over `total_steps` (default: every step of cfg.epochs), or None. Stepped after every
    optimizer step."""
    total = total_steps or cfg.epochs * steps_per_epoch
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if cfg.schedule == "onecycle":
        # Peak at each param group's lr (cfg.lr, or scaled by transfer.py for backbone blocks) after 25% of
        # the steps (Smith & Topin's super-convergence recipe).
        # Momentum is cycled inversely to the lr only where the optimizer uses it (sgd's momentum, Adam's beta1);
        # rmsprop and adadelta keep their settings.
        cycle = cfg.optimizer in ("sgd", "adam", "adamw") and (cfg.optimizer != "sgd" or cfg.momentum > 0)
        peaks = [g["lr"] for g in opt.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peaks, total_steps=total, pct_start=0.25,
                                                   cycle_momentum=cycle)
    return None

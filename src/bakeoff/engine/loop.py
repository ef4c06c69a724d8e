"""The training loop, written once for train, validation and test (`run_epoch`), and `fit` around it."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import RunConfig
from .augment import Augment, flip_suits
from .device import autocast
from .optim import build_optimizer, build_schedule
from .progress import EpochProgress

EVAL_BATCH = 1024  # no gradients: larger batches are faster and do not change results


class Diverged(Exception):
    """The training loss became NaN or infinite; the run is recorded as failed."""


@dataclass
class Split:
    """Normalized images (N, C, H, W) float32 channels-last and int64 labels, on the run's device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.y.numel()


@dataclass
class EpochResult:
    loss: float  # mean cross-entropy (unsmoothed outside training)
    acc: float
    seconds: float
    logits: torch.Tensor | None = None  # (N, num_classes) float32, when collected


def run_epoch(model: nn.Module, split: Split, *, batch_size: int, device: torch.device, precision: str,
              optimizer: torch.optim.Optimizer | None = None, schedule=None, augment: Augment | None = None,
              label_smoothing: float = 0.0, gen: torch.Generator | None = None, collect: bool = False,
              progress: EpochProgress | None = None) -> EpochResult:
    """One pass over `split`: trains when an optimizer is given, else evaluates."""
    training = optimizer is not None
    model.train(training)
    n = len(split)
    order = torch.randperm(n, generator=gen).to(device) if training else torch.arange(n, device=device)
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    all_logits = []
    start = time.perf_counter()
    steps = math.ceil(n / batch_size)
    with torch.set_grad_enabled(training):
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            x, y = split.x[idx], split.y[idx]
            if augment is not None:
                x = augment(x)
            with autocast(device, precision):
                logits = model(x)
            logits = logits.float()
            loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing if training else 0.0)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if schedule is not None:
                    schedule.step()
            loss_sum += loss.detach() * y.numel()
            correct += (logits.argmax(1) == y).sum()
            if collect:
                all_logits.append(logits.detach())
            if progress is not None and (step % 10 == 0 or step == steps - 1):
                seen = min((step + 1) * batch_size, n)
                progress.update(step + 1, loss_sum.item() / seen, correct.item() / seen)
    mean_loss = loss_sum.item() / n
    if training and not math.isfinite(mean_loss):
        raise Diverged(f"training loss became {mean_loss} (try a lower --lr)")
    logits = torch.cat(all_logits) if collect else None
    return EpochResult(mean_loss, correct.item() / n, time.perf_counter() - start, logits)


@dataclass
class FitResult:
    history: list[dict]  # one row per epoch: epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds
    best_epoch: int  # epoch whose weights were restored (lowest validation loss)
    stopped_early: bool
    train_images_per_s: float


def fit(model: nn.Module, train: Split, val: Split | None, cfg: RunConfig, device: torch.device, precision: str,
        on_epoch=None, quiet: bool = False) -> FitResult:
    """Train `model` for `cfg.epochs`, keeping and finally restoring the weights with the lowest val loss.

    Early stopping (cfg.patience) watches the validation loss only: the test split never takes part.
    `on_epoch(row)` is called after each epoch (to write history as it grows).
    """
    optimizer = build_optimizer(model.parameters(), cfg)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    schedule = build_schedule(optimizer, cfg, steps_per_epoch)
    augment = Augment(train.x.shape[-1], flip=flip_suits(cfg.dataset), seed=cfg.seed) if cfg.augment else None
    gen = torch.Generator().manual_seed(cfg.seed)  # data order
    progress = EpochProgress(quiet=quiet, label=cfg.run_id)
    history, best_loss, best_epoch, best_state, since_best = [], math.inf, 0, None, 0
    train_seconds, stopped_early = 0.0, False
    for epoch in range(1, cfg.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        progress.start(epoch, cfg.epochs, steps_per_epoch)
        try:
            tr = run_epoch(model, train, batch_size=cfg.batch_size, device=device, precision=precision,
                           optimizer=optimizer, schedule=schedule, augment=augment,
                           label_smoothing=cfg.label_smoothing, gen=gen, progress=progress)
        finally:
            progress.stop()
        train_seconds += tr.seconds
        va = evaluate(model, val, device, precision) if val is not None and len(val) else None
        row = {"epoch": epoch, "train_loss": tr.loss, "train_acc": tr.acc,
               "val_loss": va.loss if va else math.nan, "val_acc": va.acc if va else math.nan,
               "lr": lr, "seconds": tr.seconds + (va.seconds if va else 0.0)}
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        score = va.loss if va else -epoch  # without validation data the last epoch is the best
        if score < best_loss:
            best_loss, best_epoch, since_best = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
            if cfg.patience is not None and since_best >= cfg.patience:
                stopped_early = True
                break
    model.load_state_dict(best_state)
    images = len(train) * len(history)
    return FitResult(history, best_epoch, stopped_early, images / max(train_seconds, 1e-9))


def evaluate(model: nn.Module, split: Split, device: torch.device, precision: str,
             collect: bool = False) -> EpochResult:
    """Loss and accuracy on a split without gradients; `collect` keeps the logits."""
    with torch.inference_mode():
        return run_epoch(model, split, batch_size=EVAL_BATCH, device=device, precision=precision, collect=collect)


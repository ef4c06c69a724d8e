"""One pass over a split, written once for train, validation and test (`run_epoch`, `evaluate`).

Training passes step the optimizer and schedule; evaluation passes run without gradients. `fit`
(engine/loop.py) strings epochs together; `--time-budget` (engine/budget.py) times a few steps of it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from . import distributed, interrupt
from .augment import Augment, flip_suits
from .device import autocast
from .features import eval_batch_size
from .objectives import Classification
from .progress import EpochProgress
from .resize import resize_batch


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
    loss: float  # mean of the objective's loss: cross-entropy (unsmoothed outside training), or MSE
    acc: float  # NaN when the objective has no classes (reconstruction)
    seconds: float
    logits: torch.Tensor | None = None  # (N, num_classes) float32, when collected


def run_epoch(model: nn.Module, split: Split, *, batch_size: int, device: torch.device, precision: str,
              optimizer: torch.optim.Optimizer | None = None, schedule=None, augment: Augment | None = None,
              objective=None, gen: torch.Generator | None = None, collect: bool = False,
              progress: EpochProgress | None = None, tta: bool = False, max_steps: int | None = None,
              size: int | None = None) -> EpochResult:
    """One pass over `split`: trains when an optimizer is given, else evaluates.

    `objective`: what is minimised (default: cross-entropy against the labels, engine/objectives.py).
    `tta` (evaluation only): average the logits of each image and its mirror image.
    `max_steps`: stop after this many steps (the last, partial epoch of a --time-budget plan).
    `size` (training only): resize each batch to size x size pixels (--progressive-resize, engine/resize.py).

    Under torchrun (training only) each rank takes its slice of every global batch of `batch_size`.
    """
    training = optimizer is not None
    objective = objective or Classification()
    model.train(training)
    n = len(split)
    order = torch.randperm(n, generator=gen).to(device) if training else torch.arange(n, device=device)
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    count = torch.zeros((), device=device, dtype=torch.int64)
    all_logits = []
    start = time.perf_counter()
    steps = math.ceil(n / batch_size)
    world = distributed.rank_world()[1] if training else 1
    if world > 1 and 0 < n % batch_size < world:
        steps -= 1  # a last batch smaller than the number of ranks would leave a rank with nothing to do
    if max_steps is not None:
        steps = min(steps, max_steps)
    with torch.set_grad_enabled(training):
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            global_size = idx.numel()
            if world > 1:
                idx = distributed.shard(idx)
            x, y = split.x[idx], split.y[idx]
            if augment is not None:
                x = augment(x)
            if size is not None:
                x = resize_batch(x, size)
            with autocast(device, precision):
                out = model(objective.inputs(x, training))
                if tta:
                    out = (out + model(x.flip(3))) / 2
            loss, logits = objective.loss(out.float(), x, y, training)
            if training:
                optimizer.zero_grad(set_to_none=True)
                # DDP averages the ranks' gradients; weighting by shard size makes that the global batch's mean.
                (loss * (y.numel() * world / global_size) if world > 1 else loss).backward()
                optimizer.step()
                if schedule is not None:
                    schedule.step()
                interrupt.check()  # SIGINT/SIGTERM: stop here, after a whole step; the last epoch's state is saved
            loss_sum += loss.detach() * y.numel()
            if logits is not None:
                correct += (logits.argmax(1) == y).sum()
            count += y.numel()
            if collect and logits is not None:
                all_logits.append(logits.detach())
            if progress is not None and (step % 10 == 0 or step == steps - 1):
                seen = count.item()
                progress.update(step + 1, loss_sum.item() / seen, correct.item() / seen)
    if world > 1:
        loss_sum, correct, count = distributed.all_sum(loss_sum, correct, count)
    mean_loss = loss_sum.item() / count.item()
    if training and not math.isfinite(mean_loss):
        raise Diverged(f"training loss became {mean_loss} (try a lower --lr)")
    acc = correct.item() / count.item() if objective.classifies else math.nan
    logits = torch.cat(all_logits) if collect and all_logits else None
    return EpochResult(mean_loss, acc, time.perf_counter() - start, logits)


def evaluate(model: nn.Module, split: Split, device: torch.device, precision: str,
             collect: bool = False, tta: bool = False, objective=None) -> EpochResult:
    """Loss and accuracy on a split without gradients; `collect` keeps the logits; `tta` adds the mirror image."""
    with torch.inference_mode():
        return run_epoch(model, split, batch_size=eval_batch_size(split.x, model), device=device, precision=precision,
                         collect=collect, tta=tta, objective=objective)


def uses_tta(tta: bool, dataset: str) -> bool:
    """Test-time flip augmentation where it was asked for and mirror images suit the data (not digits)."""
    return bool(tta) and flip_suits(dataset)


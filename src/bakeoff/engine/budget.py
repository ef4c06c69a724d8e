"""--time-budget: every run gets the same training wall-clock, its epochs sized from its measured speed.

A 29 M-parameter CNN and a 70 k one trained for the same number of epochs get very different amounts of
compute; given the same seconds instead, each trains as many steps as fit (the last epoch cut short where
the time ends part-way through it), and its schedule (one-cycle, cosine) spans exactly those. The speed is measured on a copy of the model just before training, so the
copy's steps do not change the run's weights or its random streams.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from .epoch import evaluate, run_epoch, Split
from .optim import build_optimizer

PROBE_STEPS = 3  # timed training steps, after one untimed warm-up step (first-call kernel setup)
PROBE_EVAL_IMAGES = 1024  # validation images timed to estimate a validation pass


@dataclass
class BudgetPlan:
    seconds: float  # the budget this stage trains within
    epochs: int  # epochs that fit, the last one possibly partial; at least one whole
    steps: int  # training steps in all: the schedule spans exactly these
    epoch_seconds: float  # the estimate they were sized with
    probe_seconds: float  # what measuring cost (counted against the budget)


def plan_epochs(model: nn.Module, train, val, cfg, device, precision, objective, seconds: float) -> BudgetPlan:
    """How many epochs of `train` (and a validation pass each) fit into `seconds`, measured on a copy of `model`."""
    start = time.perf_counter()
    rng = torch.get_rng_state()  # the probe's shuffles and dropout must not move the run's random streams
    streams = {name: g.get_state() for name, g in objective.generators.items()}
    try:
        plan = _measure(model, train, val, cfg, device, precision, objective, seconds, start)
    finally:
        torch.set_rng_state(rng)
        for name, g in objective.generators.items():
            g.set_state(streams[name])
    return plan


def _measure(model, train, val, cfg, device, precision, objective, seconds: float, start: float) -> BudgetPlan:
    probe = copy.deepcopy(model)
    optimizer = build_optimizer([p for p in probe.parameters() if p.requires_grad], cfg)
    bs = cfg.batch_size
    warm = Split(train.x[:bs], train.y[:bs])
    timed = Split(train.x[bs:bs * (PROBE_STEPS + 1)], train.y[bs:bs * (PROBE_STEPS + 1)])
    if len(timed) == 0:
        timed = warm  # a training set of one batch: time that batch again
    common = dict(device=device, precision=precision, optimizer=optimizer, objective=objective)
    sample = Split(val.x[:PROBE_EVAL_IMAGES], val.y[:PROBE_EVAL_IMAGES]) if val is not None and len(val) else None

    def validate() -> float:
        objective.start_eval()
        return evaluate(probe, sample, device, precision, objective=objective).seconds if sample else 0.0

    run_epoch(probe, warm, batch_size=bs, **common)  # untimed: the first call of each shape sets up its kernels
    validate()
    step_seconds = run_epoch(probe, timed, batch_size=bs, **common).seconds / math.ceil(len(timed) / bs)
    eval_seconds = validate() * len(val) / len(sample) if sample else 0.0
    per_epoch = math.ceil(len(train) / bs)
    epoch_seconds = per_epoch * step_seconds + eval_seconds
    probe_seconds = time.perf_counter() - start
    available = seconds - probe_seconds
    whole = int(available // max(epoch_seconds, 1e-9))
    # what is left buys part of one more epoch, which still ends with a validation pass
    extra = int(max(0.0, available - whole * epoch_seconds - eval_seconds) // max(step_seconds, 1e-9))
    steps = max(per_epoch, whole * per_epoch + min(extra, per_epoch - 1))
    return BudgetPlan(seconds, math.ceil(steps / per_epoch), steps, epoch_seconds, probe_seconds)


def stage_budget(seconds: float | None, stages: int) -> float | None:
    """A run trained in several stages (head then fine-tuning, the autoencoder's three) splits its budget evenly."""
    return None if seconds is None else seconds / stages

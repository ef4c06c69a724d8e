"""The training loop: `fit`, epochs of `run_epoch` (engine/epoch.py) with checkpoints, early stopping and resuming.

Every way bakeoff trains is `fit`: whole models, a head on cached features, fine-tuned blocks and the
autoencoder's reconstruction stage (engine/stages.py) differ only in the parameters, the objective
(engine/objectives.py) and the stage label they pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn

from ..config import RunConfig
from . import distributed, interrupt
from .augment import Augment, Chain, flip_suits
from .budget import plan_epochs
from .epoch import Diverged, evaluate, run_epoch, Split, uses_tta
from .objectives import Classification
from .optim import build_optimizer, build_schedule
from .photo_augment import PhotoAugment
from .progress import EpochProgress
from .resize import epoch_sizes
from .state import load_state, save_state, snapshot, TrainState


@dataclass
class FitResult:
    history: list[dict]  # one row per epoch of every stage so far: epoch, train_loss, train_acc, val_loss,
    # val_acc, lr, seconds, stage
    best_epoch: int  # epoch (numbered as in history) whose weights were restored: the lowest validation loss
    stopped_early: bool
    train_images_per_s: float
    resumed_from: int  # epochs of this stage already done when this call started (0: a fresh run)
    images: int = 0  # training images this stage processed
    train_seconds: float = 0.0  # seconds this stage spent in training passes
    budget_epochs: int | None = None  # under --time-budget: the epochs planned to fit it (engine/budget.py)


def fit(model: nn.Module, train: Split, val: Split | None, cfg: RunConfig, device: torch.device, precision: str, *,
        on_epoch=None, quiet: bool = False, state_path: Path | None = None, params=None, objective=None,
        stage: str = "", history_before: list[dict] = (), setup_seconds: float = 0.0) -> FitResult:
    """Train `model` for `cfg.epochs`, keeping and finally restoring the weights with the lowest val loss.

    Early stopping (cfg.patience) watches the validation loss only: the test split never takes part.
    `on_epoch(history)` is called after each epoch with every row so far (to write history.csv as it grows).
    With `state_path`, the full training state is saved there after every epoch and a matching saved state
    is resumed. A stage of a longer training passes `params` (the parameters or param groups to train;
    default all), its `objective` (default: cross-entropy against the labels), its `stage` label and the
    `history_before` it, whose epochs its own continue; `setup_seconds` (a feature cache) count in its
    first epoch's time.
    Raises `Interrupted` (after the current step) on SIGINT/SIGTERM inside `interrupt.graceful_signals()`.
    """
    objective = objective or Classification(cfg.label_smoothing)
    plan = None
    if cfg.time_budget is not None:  # the epochs that fit the budget, so the schedule spans exactly them
        plan = plan_epochs(model, train, val, cfg, device, precision, objective, cfg.time_budget)
        cfg = replace(cfg, epochs=plan.epochs)
    optimizer = build_optimizer(model.parameters() if params is None else params, cfg)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    net = _data_parallel(model)  # the model itself outside torchrun
    total_steps = plan.steps if plan else None  # a budget's last epoch may be partial
    schedule = build_schedule(optimizer, cfg, steps_per_epoch, total_steps)
    augment = Augment(train.x.shape[-1], flip=flip_suits(cfg.dataset), seed=cfg.seed) if cfg.augment else None
    photo = PhotoAugment(float(train.x.amin()), cfg.seed) if cfg.photo_augment and train.x.dim() == 4 else None
    gen = torch.Generator().manual_seed(cfg.seed)  # data order
    generators = {"order": gen, **({"augment": augment.gen} if augment else {}),
                  **({"photo_augment": photo.gen} if photo else {}), **objective.generators}
    if photo is not None:
        augment = Chain(augment, photo)
    config = {**cfg.to_dict(), **({"stage": stage} if stage else {})}
    st = (load_state(state_path, config, model, optimizer, schedule, generators) if state_path else None)
    resumed_from = st.epoch if st else 0
    st = st or TrainState()
    before = list(history_before)
    tta = uses_tta(cfg.tta, cfg.dataset) and objective.classifies
    progress = EpochProgress(quiet=quiet, label=f"{cfg.run_id} {stage}".strip())
    start = _resize_start(cfg, model, train, objective, params)
    sizes = epoch_sizes(train.x.shape[-1], start, cfg.epochs) if start else [None] * cfg.epochs
    while st.epoch < cfg.epochs and not st.stopped_early and not _over_budget(plan, st.history,
                                                                              _share(total_steps, st.epoch,
                                                                                     steps_per_epoch)):
        epoch = st.epoch + 1
        lr = optimizer.param_groups[0]["lr"]
        progress.start(epoch, cfg.epochs, steps_per_epoch)
        try:
            tr = run_epoch(net, train, batch_size=cfg.batch_size, device=device, precision=precision,
                           optimizer=optimizer, schedule=schedule, augment=augment, objective=objective, gen=gen,
                           progress=progress, size=sizes[epoch - 1],
                           max_steps=None if total_steps is None else total_steps - (epoch - 1) * steps_per_epoch)
        finally:
            progress.stop()
        va = None
        if val is not None and len(val):
            objective.start_eval()
            va = evaluate(model, val, device, precision, tta=tta, objective=objective)
        seconds = tr.seconds + (va.seconds if va else 0.0) + (setup_seconds if epoch == 1 else 0.0)
        st.history.append({"epoch": len(before) + epoch, "train_loss": tr.loss, "train_acc": tr.acc,
                           "val_loss": va.loss if va else math.nan, "val_acc": va.acc if va else math.nan,
                           "lr": lr, "seconds": seconds, "stage": stage})
        progress.epoch_done(st.history[-1], epoch, cfg.epochs, stage)  # the Keras-style line, off a terminal
        st.epoch, st.train_seconds = epoch, st.train_seconds + tr.seconds
        score = va.loss if va else -epoch  # without validation data the last epoch is the best
        if score < st.best_loss:
            st.best_loss, st.best_epoch, st.since_best = score, epoch, 0
            st.best_weights = snapshot(model)
        else:
            st.since_best += 1
            st.stopped_early = cfg.patience is not None and st.since_best >= cfg.patience
        if state_path is not None:
            save_state(state_path, st, config, model, optimizer, schedule, generators)
        if on_epoch is not None:
            on_epoch(before + st.history)
        interrupt.check()  # a signal during validation stops here, with this epoch saved
    if st.best_weights is None:  # the weights broke in the last step of every epoch: no epoch is worth keeping
        raise Diverged("validation loss was never finite (try a lower --lr)")
    model.load_state_dict(st.best_weights)
    images = len(train) * len(st.history)
    if total_steps is not None:  # the last epoch may have stopped part-way
        images = min(images, total_steps * cfg.batch_size)
    return FitResult(before + st.history, len(before) + st.best_epoch, st.stopped_early,
                     images / max(st.train_seconds, 1e-9), resumed_from, images, st.train_seconds,
                     budget_epochs=plan.epochs if plan else None)


def _resize_start(cfg: RunConfig, model: nn.Module, train: Split, objective, params) -> int | None:
    """--progressive-resize's first size, no smaller than the model can pool (None: off, or a head on features)."""
    if cfg.progressive_resize is None or params is not None or not objective.classifies or train.x.dim() != 4:
        return None
    return max(cfg.progressive_resize, getattr(model, "min_input_size", 1))


def _over_budget(plan, history: list[dict], share: float = 1.0) -> bool:
    """Under --time-budget, whether the next epoch (`share` of a whole one, as slow as the slowest so far)
    would overrun it: a machine that slows down mid-run ends the run on time rather than late."""
    if plan is None or not history:
        return False
    spent = plan.probe_seconds + sum(r["seconds"] for r in history)
    return spent + share * max(r["seconds"] for r in history) > plan.seconds * 1.05


def _share(total_steps: int | None, epochs_done: int, steps_per_epoch: int) -> float:
    """The part of a whole epoch the next one is: 1, or less for a budget's last, partial epoch."""
    if total_steps is None:
        return 1.0
    return min(1.0, max(0, total_steps - epochs_done * steps_per_epoch) / steps_per_epoch)


def _data_parallel(model: nn.Module) -> nn.Module:
    """DistributedDataParallel around the model under torchrun (it starts from rank 0's weights)."""
    if distributed.rank_world()[1] == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)

"""How a run trains: one `fit`, or stages of `fit` over parts of the model.

Every stage is `engine/loop.fit` with its own parameters, objective and label, so each gets resume,
DDP, interrupts, divergence checks and early stopping from the one loop. history.csv numbers the epochs
of all stages in one sequence; its `stage` column names each row's stage:

  ''            one-stage training of the whole model (the default)
  head          --freeze backbone: the head alone, on backbone features computed once and cached (with
                --augment every epoch sees new images, so nothing is cached and the frozen backbone runs)
  probe         --freeze probe: the final linear layer fitted to the cached features by logistic regression
                (engine/probe.py: a solver, one history row), then with --finetune-blocks N finetune from it
  finetune      --finetune-blocks N: the head and the last N backbone blocks, the blocks at lr x
                --backbone-lr-scale; earlier blocks stay frozen in eval mode (BatchNorm statistics kept)
  head, then finetune   both options: the head first (a trained head does not send large gradients into
                pretrained blocks), then the last N blocks with it; the fine-tuned weights are kept only if
                their best validation loss beats the head's (linear probing, then fine-tuning)
  autoencoder:  reconstruct (encoder + decoder minimise the MSE to the clean input; --denoise SIGMA feeds
                them the image plus Gaussian noise), then classify (the classifier on the frozen encoder's
                cached codes), then with --finetune-blocks N finetune (kept only if its best validation
                loss beats classify's). Each stage is `cfg.epochs` long and keeps its best weights.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import replace
from pathlib import Path

import torch.nn as nn

from .budget import stage_budget
from .epoch import Split
from .features import (
    CACHE_LIMIT_BYTES,
    HeadOnly,
    PartlyFrozen,
    cache_bytes,
    extract_features,
    frozen,
)
from .loop import fit, FitResult
from .objectives import Noise, Reconstruction, Reconstructor
from .probe import fit_probe


def is_autoencoder(model: nn.Module) -> bool:
    return hasattr(model, "reconstruct")


def trains_whole_model(model: nn.Module, cfg) -> bool:
    """One stage over every parameter: the training step that counted FLOPs describe."""
    return not is_autoencoder(model) and cfg.freeze == "none" and not cfg.finetune_blocks


def train_model(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, mean: list[float],
                std: list[float], on_epoch=None, quiet: bool = False,
                state_path: Path | None = None) -> tuple[FitResult, dict]:
    """Train as the options say; returns fit's result and extra metrics (feature cache, trainable parameters).

    `mean`/`std`: the inputs' normalization (0..1 scale), for the autoencoder's --denoise noise.
    `state_path`: where the training state is saved after every epoch and resumed from (a stage of a
    multi-stage run adds its name to the file name).
    """
    common = dict(on_epoch=on_epoch, quiet=quiet, state_path=state_path)
    stages = 2 + bool(cfg.finetune_blocks) if is_autoencoder(model) else \
        1 + bool(cfg.freeze != "none" and cfg.finetune_blocks)
    if cfg.time_budget is not None and stages > 1:  # each stage sizes its epochs to its share (engine/budget.py)
        cfg = replace(cfg, time_budget=stage_budget(cfg.time_budget, stages))
    if is_autoencoder(model):
        return fit_autoencoder(model, train, val, cfg, device, precision, mean=mean, std=std, **common)
    if cfg.freeze != "none" and cfg.finetune_blocks:
        return fit_head_then_finetune(model, train, val, cfg, device, precision, **common)
    if cfg.freeze == "probe":
        return fit_probe(model, train, val, cfg, device, precision, **common)
    if cfg.freeze == "backbone":
        return fit_frozen(model, train, val, cfg, device, precision, **common)
    if cfg.finetune_blocks:
        return fit_finetune(model, train, val, cfg, device, precision, **common)
    return fit(model, train, val, cfg, device, precision, **common), {}


def fit_frozen(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, stage: str = "head",
               cache: bool | None = None, **fit_kwargs) -> tuple[FitResult, dict]:
    """Train the head alone on a frozen backbone, on cached features unless `cache` is False or --augment."""
    blocks = model.backbone_blocks()
    n = len(train) + (len(val) if val is not None else 0)
    size = cache_bytes(model, train.x, n)
    if cache is None:
        cache = not cfg.augment and size <= CACHE_LIMIT_BYTES
    head = model.head_parameters()
    info = {"feature_cache": bool(cache), "trainable_params": sum(p.numel() for p in head)}
    setup_seconds = 0.0
    with frozen(blocks):
        if cache:
            start = time.perf_counter()
            train_on = Split(extract_features(model, train.x, device, precision), train.y)
            val_on = Split(extract_features(model, val.x, device, precision), val.y) if val is not None else None
            setup_seconds = time.perf_counter() - start
            info["feature_cache_seconds"] = setup_seconds
            info["feature_cache_mb"] = size / 2**20
            net: nn.Module = HeadOnly(model)
        else:
            train_on, val_on, net = train, val, PartlyFrozen(model, blocks)
        result = fit(net, train_on, val_on, cfg, device, precision, params=head, stage=stage,
                     setup_seconds=setup_seconds, **fit_kwargs)
    return result, info


def fit_finetune(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *,
                 stage: str = "finetune", head_lr: float | None = None, **fit_kwargs) -> tuple[FitResult, dict]:
    """Train the head and the last `cfg.finetune_blocks` blocks (at lr x backbone_lr_scale); the rest stays frozen."""
    blocks = model.backbone_blocks()
    n = min(cfg.finetune_blocks, len(blocks))
    fixed, tuned = blocks[:len(blocks) - n], blocks[len(blocks) - n:]
    head = model.head_parameters()
    tuned_params = [p for b in tuned for p in b.parameters()]
    groups = [{"params": head, "lr": cfg.lr if head_lr is None else head_lr},  # first: history's lr follows the head
              {"params": tuned_params, "lr": cfg.lr * cfg.backbone_lr_scale}]
    info = {"finetuned_blocks": n, "backbone_blocks": len(blocks),
            "trainable_params": sum(p.numel() for p in head + tuned_params)}
    with frozen(fixed):
        result = fit(PartlyFrozen(model, fixed), train, val, cfg, device, precision, params=groups, stage=stage,
                     **fit_kwargs)
    return result, info


def fit_head_then_finetune(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *,
                           on_epoch=None, quiet: bool = False,
                           state_path: Path | None = None) -> tuple[FitResult, dict]:
    """The head on the frozen backbone's cached features (trained, or fitted as a linear probe), then the last
    blocks with it, starting from that head; see above."""
    staged = _Stages(on_epoch, quiet, state_path)
    first = fit_probe if cfg.freeze == "probe" else fit_frozen
    stage = "probe" if cfg.freeze == "probe" else "head"
    head, info = first(model, train, val, cfg, device, precision, stage=stage, **staged.kwargs(stage, []))
    # A probe's layer is already the best linear fit: it moves as slowly as the blocks (at lr x backbone-lr-scale),
    # where the full rate undid part of it in the first epoch (clothing-photos: validation loss 0.318 -> 0.340)
    head_lr = cfg.lr * cfg.backbone_lr_scale if cfg.freeze == "probe" else None
    result, tuned_info = _finetune_if_better(model, train, val, cfg, device, precision, head, staged, head_lr)
    info.update({k: v for k, v in tuned_info.items() if k != "trainable_params"})
    images, seconds = head.images + result.images, head.train_seconds + result.train_seconds
    return FitResult(result.history, result.best_epoch, result.stopped_early, images / max(seconds, 1e-9),
                     head.resumed_from, images, seconds), info


def _finetune_if_better(model: nn.Module, train: Split, val: Split | None, cfg, device, precision,
                        before: FitResult, staged: "_Stages", head_lr: float | None = None) -> tuple[FitResult, dict]:
    """Fine-tune the last blocks after an earlier stage; keep the result only if validation loss improved.

    Returns the stage whose weights the model ends with (its history holds every stage's rows) and the
    fine-tuning info, with `finetune_kept`.
    """
    kept = copy.deepcopy(model.state_dict())
    tuned, info = fit_finetune(model, train, val, cfg, device, precision, head_lr=head_lr,
                               **staged.kwargs("finetune", before.history))
    info["finetune_kept"] = _best_val_loss(tuned) <= _best_val_loss(before)
    if info["finetune_kept"]:
        return tuned, info
    model.load_state_dict(kept)  # fine-tuning did not help on validation data
    return FitResult(tuned.history, before.best_epoch, before.stopped_early, 0.0, before.resumed_from,
                     tuned.images, tuned.train_seconds), info


class _Stages:
    """What every stage of a multi-stage run shares: the callbacks, and a state file of its own per stage."""

    def __init__(self, on_epoch, quiet: bool, state_path: Path | None):
        self.on_epoch, self.quiet, self.state_path = on_epoch, quiet, state_path

    def kwargs(self, stage: str, before: list[dict]) -> dict:
        path = self.state_path
        if path is not None:
            path = path.with_name(f"{path.stem}-{stage}{path.suffix}")
        return dict(on_epoch=self.on_epoch, quiet=self.quiet, state_path=path, history_before=before)


def fit_autoencoder(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, mean: list[float],
                    std: list[float], on_epoch=None, quiet: bool = False,
                    state_path: Path | None = None) -> tuple[FitResult, dict]:
    """Reconstruct, then classify on the frozen encoder, then (with --finetune-blocks) fine-tune; see above."""
    staged = _Stages(on_epoch, quiet, state_path)
    start = time.perf_counter()
    head = {id(p) for p in model.head_parameters()}
    objective = Reconstruction(Noise(cfg.denoise, mean, std, device), cfg.seed, device)
    recon = fit(Reconstructor(model), train, val, cfg, device, precision, objective=objective,
                params=[p for p in model.parameters() if id(p) not in head], stage="reconstruct",
                **staged.kwargs("reconstruct", []))
    recon_seconds = time.perf_counter() - start

    result, info = fit_frozen(model, train, val, cfg, device, precision, stage="classify",
                              **staged.kwargs("classify", recon.history))
    images, seconds = recon.images + result.images, recon.train_seconds + result.train_seconds
    if cfg.finetune_blocks:
        result, tuned_info = _finetune_if_better(model, train, val, cfg, device, precision, result, staged)
        images, seconds = images + result.images, seconds + result.train_seconds
        info.update({k: v for k, v in tuned_info.items() if k != "trainable_params"})
    history = result.history
    info.update({"reconstruct_epochs": sum(r["stage"] == "reconstruct" for r in history),
                 "reconstruct_seconds": recon_seconds, "denoise": cfg.denoise})
    per_s = images / max(seconds, 1e-9)
    return FitResult(history, result.best_epoch, result.stopped_early, per_s, recon.resumed_from, images,
                     seconds), info


def _best_val_loss(result: FitResult) -> float:
    v = result.history[result.best_epoch - 1]["val_loss"]
    return v if v is not None and math.isfinite(v) else -result.best_epoch

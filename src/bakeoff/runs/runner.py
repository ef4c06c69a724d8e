"""One training run end to end: split, build, fit, test, and write the run folder (format: store/runfolder.py)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from .. import files
from ..analysis.autoencoder_views import autoencoder_views
from ..config import RunConfig
from ..data import Dataset, train_val_split
from ..data.domain import photo_domain
from ..data.photos.training import photo_split, repeats
from ..data.pixels import normalize
from ..engine.device import resolve_device, resolve_precision
from ..engine.epoch import Diverged, evaluate, Split, uses_tta
from ..engine.interrupt import Interrupted
from ..engine.loop import FitResult
from ..engine.memory import PeakMemory
from ..engine.metrics import count_params, forward_mflops, train_mflops
from ..engine.stages import is_autoencoder, train_model, trains_whole_model
from ..engine.whitening import whiten_stem
from ..models import create_model
from ..models.checkpoint import save_checkpoint
from ..models.pretrained import check_sources, input_stats, load_pretrained, model_options
from ..store import runfolder


@dataclass
class PreparedData:
    """A dataset normalized once, shared by every run of a grid."""

    dataset: Dataset
    x_train: torch.Tensor  # (N, C, H, W) float32, normalized, channels-last
    x_test: torch.Tensor
    mean: list[float]
    std: list[float]

    @classmethod
    def from_dataset(cls, ds: Dataset, stats: tuple[list[float], list[float]] | None = None) -> "PreparedData":
        """Normalized by the dataset's own per-channel stats, or by `stats` (mean, std) when given."""
        mean, std = stats or ds.channel_stats()
        return cls(ds, normalize(ds.x_train, mean, std), normalize(ds.x_test, mean, std), mean, std)

    def preprocessing(self) -> dict:
        """How the model is fed: saved with the checkpoint so predictions preprocess the same way."""
        ds = self.dataset
        return {"dataset": ds.name, "in_chans": ds.in_chans, "img_size": ds.img_size,
                "mean": self.mean, "std": self.std, **photo_domain(ds.x_train)}


def execute_run(cfg: RunConfig, data: PreparedData, run_dir: Path, quiet: bool = False,
                resumable: bool = True) -> dict:
    """Train and test one configuration; returns its metrics (also written to metrics.json).

    `resumable`: save the training state after every epoch (state.pt) and resume a matching one.
    """
    check_sources(cfg)  # the files --pretrained/--weights name, before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / runfolder.METRICS_FILE).unlink(missing_ok=True)  # an earlier attempt that did not finish resumes
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    files.write_json(run_dir / runfolder.CONFIG_FILE, cfg.to_dict())
    ds = data.dataset
    run = build_run(cfg, data, device)
    data, train, val, model = run.data, run.train, run.val, run.model
    model_kwargs, pretrained = run.model_kwargs, run.pretrained
    test = Split(data.x_test.to(device), ds.y_test.to(device))
    base = {"run_id": cfg.run_id, "model": cfg.model, "model_kwargs": model_kwargs, "seed": cfg.seed,
            "device": str(device),
            "precision": precision, "n_train": len(train) - _photo_images(run.photo_counts), "n_val": len(val),
            "n_test": len(test),
            "params": count_params(model), "mflops": forward_mflops(model, ds.in_chans, ds.img_size),
            "versions": runfolder.versions(), **pretrained}
    state_path = run_dir / runfolder.STATE_FILE if resumable else None
    try:
        with PeakMemory(device) as memory:
            result, extra = train_model(model, train, val, cfg, device, precision, mean=data.mean, std=data.std,
                                        on_epoch=lambda h: runfolder.write_history(run_dir, h), quiet=quiet,
                                        state_path=state_path)
    except Diverged as e:
        metrics = {**base, "status": "failed", "reason": str(e)}
        files.write_json(run_dir / runfolder.METRICS_FILE, metrics)
        _drop_states(run_dir)
        return metrics
    except Interrupted as e:
        files.write_json(run_dir / runfolder.METRICS_FILE, {**base, "status": "interrupted", "reason": str(e)})
        raise
    test_result = evaluate(model, test, device, precision, collect=True, tta=uses_tta(cfg.tta, cfg.dataset))
    if run.held_out_photos is not None:  # photos of the user's kind that no run trained on
        photo_result = evaluate(model, run.held_out_photos, device, precision, tta=uses_tta(cfg.tta, cfg.dataset))
        extra.update(run.photo_counts, photo_val_acc=photo_result.acc)
    if is_autoencoder(model):
        views, arrays = autoencoder_views(model, cfg, data.mean, data.std, train, test, device, precision)
        extra.update(views)
        files.write_arrays(run_dir / runfolder.AUTOENCODER_FILE, arrays)
    best = result.history[result.best_epoch - 1]
    seconds = sum(r["seconds"] for r in result.history)  # resumed runs count every epoch once
    metrics = {
        **base, "status": "finished",
        "epochs_run": len(result.history), "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
        "train_loss": best["train_loss"], "train_acc": best["train_acc"],
        "val_loss": _or_none(best["val_loss"]), "val_acc": _or_none(best["val_acc"]),
        "test_loss": test_result.loss, "test_acc": test_result.acc,
        # 1: the same class for every test image, a model that learned nothing (called out, never used to choose)
        "test_classes_predicted": int(torch.unique(test_result.logits.argmax(1)).numel()),
        "train_seconds": seconds, "seconds_per_epoch": seconds / len(result.history),
        "resumed_from_epoch": result.resumed_from,
        **({"time_budget_s": cfg.time_budget, "budget_epochs": result.budget_epochs} if cfg.time_budget else {}),
        "images_per_s": result.train_images_per_s,
        **throughput(model, cfg, ds, result.train_images_per_s),
        "peak_memory_mb": memory.peak_mb, "peak_memory_kind": memory.kind,
        "infer_ms": 1000 * test_result.seconds / len(test),  # per image, batched, on the test set
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,  # what else ran meanwhile
        **extra,  # transfer / autoencoder numbers (engine/stages.py, analysis/autoencoder_views.py)
    }
    save_checkpoint(run_dir / runfolder.CHECKPOINT_FILE, model, model_name=cfg.model, model_kwargs=model_kwargs,
                    classes=ds.classes, preprocessing=data.preprocessing(), config=cfg.to_dict(), metrics=metrics)
    write_predictions(run_dir, test_result.logits, ds.y_test)
    files.write_json(run_dir / runfolder.METRICS_FILE, metrics)  # last: the run is done
    _drop_states(run_dir)  # resuming is no longer needed; best.pt holds the weights
    return metrics


@dataclass
class BuiltRun:
    """A configuration made ready to train: its training and validation splits on the device, its fresh model."""

    data: PreparedData  # renormalized when pretrained weights expect their own input statistics
    train: Split
    val: Split
    model: nn.Module
    model_kwargs: dict
    pretrained: dict  # what loading --pretrained weights did ({} without)
    held_out_photos: Split | None = None  # --train-photos: the fifth of the photos scored after training
    photo_counts: dict | None = None  # --train-photos: how many photos trained, were held out, repeated


def build_run(cfg: RunConfig, data: PreparedData, device: torch.device) -> BuiltRun:
    """Split the training images and build the model as `cfg` says. The test split is not read here:
    tuning trials are built by this too, and they must never see it."""
    ds = data.dataset
    stats = input_stats(cfg, ds.in_chans)  # pretrained weights: inputs normalized as they were trained
    if stats is not None:
        data = PreparedData.from_dataset(ds, stats)
    torch.manual_seed(cfg.seed)  # weights and dropout
    train_idx, val_idx = train_val_split(ds.y_train, cfg.val_fraction, cfg.seed, cfg.train_subset,
                                         cfg.folds, cfg.fold)
    train = Split(data.x_train[train_idx].to(device), ds.y_train[train_idx].to(device))
    val = Split(data.x_train[val_idx].to(device), ds.y_train[val_idx].to(device))
    held_out, counts = None, None
    if cfg.train_photos:
        train, held_out, counts = _with_photos(cfg, data, train, device)
    model_kwargs = {"num_classes": ds.num_classes, "in_chans": ds.in_chans, "img_size": ds.img_size,
                    **model_options(cfg)}
    model = create_model(cfg.model, **model_kwargs)
    if cfg.whiten_stem:  # from the training split's images only
        whiten_stem(model, train.x)
    pretrained = load_pretrained(model, cfg)  # {} without --pretrained
    model = model.to(device).to(memory_format=torch.channels_last)
    return BuiltRun(data, train, val, model, model_kwargs, pretrained, held_out, counts)


def _photo_images(counts: dict | None) -> int:
    """Images in the training split that are --train-photos' photos (repeated), so n_train counts the dataset's."""
    return counts["n_photos_train"] * counts["photo_repeats"] if counts else 0


def _with_photos(cfg: RunConfig, data: PreparedData, train: Split, device: torch.device) -> tuple[Split, Split, dict]:
    """The training split joined by --train-photos' photos (repeated to their share of an epoch), the photos
    held out, and the counts for metrics.json (data/photos/training.py)."""
    photos = photo_split(cfg.train_photos, cfg.photo_class_map, data.dataset.classes, data.preprocessing(), cfg.seed)
    times = repeats(len(train), len(photos.y_train))
    joined = Split(torch.cat([train.x, photos.x_train.to(device).repeat(times, 1, 1, 1)]),
                   torch.cat([train.y, photos.y_train.to(device).repeat(times)]))
    joined.x = joined.x.contiguous(memory_format=torch.channels_last)
    held_out = Split(photos.x_held_out.to(device), photos.y_held_out.to(device))
    return joined, held_out, {"n_photos_train": len(photos.y_train), "n_photos_held_out": len(held_out),
                              "photo_repeats": times, "photos_unreadable": photos.unreadable}


def train_for_validation(cfg: RunConfig, data: PreparedData, on_epoch=None, quiet: bool = True) -> FitResult:
    """Train `cfg` in memory and return fit's result (history, best epoch): no run folder, no checkpoint and
    no test split, which is what a tuning trial needs. `on_epoch(history)` may raise to stop (a pruned trial)."""
    check_sources(cfg)
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    run = build_run(cfg, data, device)
    result, _ = train_model(run.model, run.train, run.val, cfg, device, precision, mean=run.data.mean,
                            std=run.data.std, on_epoch=on_epoch, quiet=quiet)
    return result


def _drop_states(run_dir: Path) -> None:
    for path in runfolder.state_files(run_dir):
        path.unlink(missing_ok=True)


def throughput(model, cfg: RunConfig, ds: Dataset, images_per_s: float) -> dict:
    """Achieved training GFLOP/s: counted FLOPs of a training step per image x images per second.

    Only for one-stage training of the whole model; a frozen backbone, fine-tuned blocks or the autoencoder's
    stages do other work per image than the full step that would be counted.
    """
    if not trains_whole_model(model, cfg):
        return {}
    mflops = train_mflops(model, ds.in_chans, ds.img_size)
    return {"train_mflops": mflops, "train_gflops_per_s": mflops * images_per_s / 1e3}


def write_predictions(run_dir: Path, logits: torch.Tensor, y_true: torch.Tensor) -> None:
    """Test-set predictions from the logits: probabilities and per-image loss, as runfolder stores them."""
    logits = logits.float().cpu()
    probs = torch.softmax(logits, dim=1)
    loss = torch.nn.functional.cross_entropy(logits, y_true.cpu(), reduction="none")
    runfolder.write_predictions(run_dir, y_true.cpu().numpy(), probs.numpy(), loss.numpy())


def _or_none(v: float):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

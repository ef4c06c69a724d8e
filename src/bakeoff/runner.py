"""One training run end to end: split, build, fit, test, and write the run folder.

A run folder holds:
  config.json       the resolved RunConfig (the run is rebuilt from it)
  history.csv       epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds (grows per epoch)
  best.pt           checkpoint of the weights with the lowest validation loss
  predictions.npz   test labels, predictions and class probabilities (for reports)
  metrics.json      written last: its status 'finished' or 'failed' marks the run done
                    ('interrupted' marks a run stopped by a signal; it resumes on the next attempt)
  state.pt          while the run is under way: everything needed to resume after the last epoch
"""
from __future__ import annotations

import csv
import io
import json
import math
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import RunConfig
from .data import Dataset, train_val_split
from .data.domain import photo_domain
from .engine import strategy
from .engine.checkpoint import atomic_write_bytes, atomic_write_text, save_checkpoint
from .engine.device import resolve_device, resolve_precision
from .engine.interrupt import Interrupted
from .engine.loop import Diverged, Split, evaluate, uses_tta
from .engine.state import STATE_FILE
from .engine.heap import keep_freed_memory
from .engine.memory import PeakMemory
from .engine.metrics import count_params, forward_mflops, train_mflops
from .models import create_model

HISTORY_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                  "stage"]  # stage: empty for one-stage training; see engine/strategy.py


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


def normalize(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 standardized per channel, channels-last for the CPU conv kernels."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return ((x.float() / 255 - m) / s).contiguous(memory_format=torch.channels_last)


def read_status(run_dir: Path) -> dict | None:
    """The run's metrics.json, or None when the run has not finished."""
    path = run_dir / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def execute_run(cfg: RunConfig, data: PreparedData, run_dir: Path, quiet: bool = False,
                resumable: bool = True) -> dict:
    """Train and test one configuration; returns its metrics (also written to metrics.json).

    `resumable`: save the training state after every epoch (state.pt) and resume a matching one.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.json").unlink(missing_ok=True)  # an earlier attempt that did not finish resumes
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    atomic_write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    ds = data.dataset
    stats = strategy.input_stats(cfg, ds.in_chans)  # pretrained weights: inputs normalized as they were trained
    if stats is not None:
        data = PreparedData.from_dataset(ds, stats)
    torch.manual_seed(cfg.seed)  # weights and dropout
    train_idx, val_idx = train_val_split(ds.y_train, cfg.val_fraction, cfg.seed, cfg.train_subset)
    train = Split(data.x_train[train_idx].to(device), ds.y_train[train_idx].to(device))
    val = Split(data.x_train[val_idx].to(device), ds.y_train[val_idx].to(device))
    test = Split(data.x_test.to(device), ds.y_test.to(device))
    model_kwargs = {"num_classes": ds.num_classes, "in_chans": ds.in_chans, "img_size": ds.img_size,
                    **strategy.model_options(cfg)}
    model = create_model(cfg.model, **model_kwargs)
    pretrained = strategy.load_pretrained(model, cfg)  # {} without --pretrained
    model = model.to(device).to(memory_format=torch.channels_last)
    base = {"run_id": cfg.run_id, "model": cfg.model, "seed": cfg.seed, "device": str(device),
            "precision": precision, "n_train": len(train), "n_val": len(val), "n_test": len(test),
            "params": count_params(model), "mflops": forward_mflops(model, ds.in_chans, ds.img_size),
            "versions": versions(), **pretrained}
    state_path = run_dir / STATE_FILE if resumable else None
    keep_freed_memory()  # engine/heap.py: each training step reuses the last one's pages
    try:
        with PeakMemory(device) as memory:
            result, extra = strategy.train_model(model, train, val, cfg, device, precision, mean=data.mean,
                                                 std=data.std, on_epoch=lambda h: write_history(run_dir, h),
                                                 quiet=quiet, state_path=state_path)
    except Diverged as e:
        metrics = {**base, "status": "failed", "reason": str(e)}
        atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        (run_dir / STATE_FILE).unlink(missing_ok=True)
        return metrics
    except Interrupted as e:
        metrics = {**base, "status": "interrupted", "reason": str(e)}
        atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        raise
    test_result = evaluate(model, test, device, precision, collect=True, tta=uses_tta(cfg.tta, cfg.dataset))
    extra.update(strategy.after_training(model, cfg, mean=data.mean, std=data.std, classes=ds.classes, train=train,
                                         test=test, run_dir=run_dir, device=device, precision=precision))
    best = result.history[result.best_epoch - 1]
    metrics = {
        **base, "status": "finished",
        "epochs_run": len(result.history), "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
        "train_loss": best["train_loss"], "train_acc": best["train_acc"],
        "val_loss": _or_none(best["val_loss"]), "val_acc": _or_none(best["val_acc"]),
        "test_loss": test_result.loss, "test_acc": test_result.acc,
        "train_seconds": sum(r["seconds"] for r in result.history),  # resumed runs count every epoch once
        "seconds_per_epoch": sum(r["seconds"] for r in result.history) / len(result.history),
        "resumed_from_epoch": result.resumed_from,
        "images_per_s": result.train_images_per_s,
        **throughput(model, cfg, ds, result.train_images_per_s),
        "peak_memory_mb": memory.peak_mb, "peak_memory_kind": memory.kind,
        "infer_ms": 1000 * test_result.seconds / len(test),  # per image, batched, on the test set
        **extra,  # transfer / autoencoder numbers (engine/strategy.py)
    }
    save_checkpoint(run_dir / "best.pt", model, model_name=cfg.model, model_kwargs=model_kwargs,
                    classes=ds.classes, preprocessing=data.preprocessing(), config=cfg.to_dict(), metrics=metrics)
    write_predictions(run_dir / "predictions.npz", test_result.logits, ds.y_test)
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")  # last: the run is done
    (run_dir / STATE_FILE).unlink(missing_ok=True)  # resuming is no longer needed; best.pt holds the weights
    return metrics


def throughput(model, cfg: RunConfig, ds: Dataset, images_per_s: float) -> dict:
    """Achieved training GFLOP/s: counted FLOPs of a training step per image x images per second.

    Only for one-stage training of the whole model; a frozen backbone, fine-tuned blocks or the autoencoder's
    stages do other work per image than the full step that would be counted.
    """
    if strategy.is_autoencoder(model) or cfg.freeze != "none" or cfg.finetune_blocks:
        return {}
    mflops = train_mflops(model, ds.in_chans, ds.img_size)
    return {"train_mflops": mflops, "train_gflops_per_s": mflops * images_per_s / 1e3}


def write_history(run_dir: Path, rows: list[dict]) -> None:
    """history.csv rewritten atomically after every epoch, so it is never half a line."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(run_dir / "history.csv", buf.getvalue())


def write_predictions(path: Path, logits: torch.Tensor, y_true: torch.Tensor) -> None:
    """Test-set predictions: y_true, y_pred, probs (N, K) float32, per-image loss."""
    logits = logits.float().cpu()
    probs = torch.softmax(logits, dim=1)
    loss = torch.nn.functional.cross_entropy(logits, y_true.cpu(), reduction="none")
    buf = io.BytesIO()
    np.savez_compressed(buf, y_true=y_true.cpu().numpy(), y_pred=probs.argmax(1).numpy(),
                        probs=probs.numpy(), loss=loss.numpy())
    atomic_write_bytes(path, buf.getvalue())


def versions() -> dict:
    import sklearn

    return {"bakeoff": __version__, "torch": str(torch.__version__), "numpy": str(np.__version__),
            "sklearn": sklearn.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "threads": torch.get_num_threads()}


def _or_none(v: float):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

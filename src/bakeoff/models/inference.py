"""A trained model as a function: preprocessed views in, class probabilities out, fed as it was trained.

Shared by everything that answers with a finished model (serve/predictor.py behind `predict` and `serve`,
analysis/real_photos.py scoring a photo folder), so a photo gets the same numbers wherever it is scored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from ..data.pixels import normalize_images
from .checkpoint import load_checkpoint, model_from_checkpoint

Forward = Callable[[np.ndarray], np.ndarray]  # float32 (B, C, H, W), normalized -> logits (B, K)


def load_forward(path: Path) -> tuple[dict, nn.Module, Forward]:
    """(checkpoint, model, forward) of a best.pt, the model in channels-last as trained (faster CPU convs)."""
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt).to(memory_format=torch.channels_last)
    return ckpt, model, torch_forward(model)


def torch_forward(model: nn.Module) -> Forward:
    def forward(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).float().numpy()
    return forward


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def probabilities(views: list[np.ndarray], preprocessing: dict, forward: Forward, batch_size: int = 256) -> np.ndarray:
    """(N, K) class probabilities of many already-preprocessed views (uint8, as `model_view` makes them), batched."""
    mean, std = preprocessing["mean"], preprocessing["std"]
    return np.concatenate([softmax(forward(normalize_images(views[i:i + batch_size], mean, std)))
                           for i in range(0, len(views), batch_size)])

"""How pixels become model inputs: the one definition training, evaluation and serving share."""
from __future__ import annotations

import numpy as np
import torch


def normalize(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 standardized per channel (0..1 scale stats), channels-last for the CPU kernels."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return ((x.float() / 255 - m) / s).contiguous(memory_format=torch.channels_last)


def normalize_images(images: list[np.ndarray], mean: list[float], std: list[float]) -> np.ndarray:
    """uint8 images as PIL gives them, (H, W) or (H, W, C), -> float32 (B, C, H, W) through `normalize`.

    C-contiguous, as ONNX Runtime and TorchScript take it; what serving feeds a model.
    """
    x = torch.from_numpy(np.stack(images))  # (B, H, W) or (B, H, W, C)
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)  # (B, C, H, W)
    return np.ascontiguousarray(normalize(x, mean, std).numpy())

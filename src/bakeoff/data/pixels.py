"""How pixels become model inputs: the one definition training, evaluation and serving share."""
from __future__ import annotations

import torch


def normalize(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 standardized per channel (0..1 scale stats), channels-last for the CPU kernels."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return ((x.float() / 255 - m) / s).contiguous(memory_format=torch.channels_last)

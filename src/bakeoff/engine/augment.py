"""Batched tensor augmentation: a whole batch per call, no per-image Python loop."""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Mirror images are still valid samples of these datasets; digits are not (a flipped 2 is no digit).
NO_FLIP_DATASETS = {"digits", "mnist"}


def flip_suits(dataset: str) -> bool:
    return dataset not in NO_FLIP_DATASETS


def random_crop(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to `pad` pixels (zero padding, then a random crop back to size)."""
    b, c, h, w = x.shape  # (B, C, H, W)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=gen.device).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=gen.device).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])  # (B, H)
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(x.shape[0], generator=gen, device=gen.device).to(x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


class Augment:
    """Crop-with-padding (pad = img_size / 8, i.e. 4 px on 32x32 as in the ResNet paper) and optional flip."""

    def __init__(self, img_size: int, flip: bool, seed: int):
        self.pad = max(1, img_size // 8)
        self.flip = flip
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = random_crop(x, self.pad, self.gen)
        if self.flip:
            x = random_flip(x, self.gen)
        return x.contiguous(memory_format=torch.channels_last)


class Chain:
    """Two augmentations in a row, the first optional (crop-and-flip, then --photo-augment)."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(x if self.first is None else self.first(x))

"""Augmentation that imitates how photos vary once converted into a benchmark's look (`--photo-augment`).

A photo brought into Fashion-MNIST's domain (data/photos/preprocess.py) differs from the dataset's product shots in
ways the crop-and-flip augmentation never shows a model: the object is a little smaller or larger, wider or
narrower, tilted, dimmer (a light garment differs little from its background) and softer (a phone photo
downscaled). Each training batch gets a random mix of those, batched on tensors: one affine warp (scale
0.8-1.05, aspect 0.8-1.25, rotation up to 10 degrees, shift up to 8%), contrast 0.4-1.1 of the object
against the background, and a 3x3 blur on a third of the images. The background stays the dataset's.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SCALE = (0.8, 1.05)
ASPECT = (0.8, 1.25)
ROTATE_DEG = 10.0
SHIFT = 0.08  # share of the side
CONTRAST = (0.4, 1.1)
BLUR_SHARE = 1 / 3


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


class PhotoAugment:
    """Random warp, contrast and blur of a normalized batch (B, C, H, W), around the background value `background`."""

    def __init__(self, background: float, seed: int):
        self.background = background  # normalized value of the dataset's background (its darkest pixel)
        self.gen = torch.Generator().manual_seed(seed + 3)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = self.gen
        scale, aspect = _uniform(b, *SCALE, g), _uniform(b, *ASPECT, g)
        angle = _uniform(b, -ROTATE_DEG, ROTATE_DEG, g) * math.pi / 180
        shift = _uniform(2 * b, -SHIFT, SHIFT, g).view(b, 2) * 2  # affine_grid's units: the side is 2
        sx, sy = 1 / (scale * aspect.sqrt()), aspect.sqrt() / scale  # output -> input coordinates
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack([torch.stack([sx * cos, -sx * sin, shift[:, 0]], 1),
                             torch.stack([sy * sin, sy * cos, shift[:, 1]], 1)], 1).to(x)  # (B, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        obj = F.grid_sample(x - self.background, grid, align_corners=False)  # outside the image: background
        obj = obj * _uniform(b, *CONTRAST, g).to(x).view(b, 1, 1, 1)
        blur = (torch.rand(b, generator=g) < BLUR_SHARE).to(x.device)
        if blur.any():
            c = x.shape[1]
            kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], device=x.device) / 16
            soft = F.conv2d(obj, kernel.expand(c, 1, 3, 3).to(x), padding=1, groups=c)
            obj = torch.where(blur[:, None, None, None], soft, obj)
        return (obj + self.background).contiguous(memory_format=torch.channels_last)

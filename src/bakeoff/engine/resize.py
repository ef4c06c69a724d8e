"""Progressive resizing: the first epochs train on smaller images, which cost fewer FLOPs (fast.ai, airbench).

With `--progressive-resize N` the training images of epoch 1 are resized to N pixels a side, growing
linearly to the data's own size by the epoch just past halfway; the rest of training, validation and the
test score see the images as they are, so batch-norm statistics and the final weights fit the real size.
Only models that pool globally before their head take other sizes (the `any_size` trait, models/registry.py).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def epoch_sizes(full: int, start: int | None, epochs: int) -> list[int]:
    """The training image side for each epoch: `start` up to `full` by epoch ceil(epochs / 2) + 1.

    >>> epoch_sizes(28, 20, 4)
    [20, 24, 28, 28]
    """
    if start is None or start >= full:
        return [full] * epochs
    ramp = min(epochs, math.ceil(epochs / 2) + 1)  # epochs that grow, the last of them at full size
    if ramp == 1:
        return [full] * epochs
    sizes = [round(start + (full - start) * i / (ramp - 1)) for i in range(ramp)]
    return sizes + [full] * (epochs - ramp)


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """A batch (N, C, H, W) resized to size x size, antialiased so small sizes do not alias."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)

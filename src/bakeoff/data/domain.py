"""What a dataset's images look like, measured once at training time, so photos can be brought into that domain.

`bakeoff predict` and `serve` read the result from the checkpoint's preprocessing (data/photos/preprocess.py).
"""
from __future__ import annotations

import torch

# Border brightness (0..1) that marks a dataset's background, measured on the real sets: per-image border
# mean, 90th percentile: MNIST 0.00, Fashion-MNIST 0.10, digits 0.23; CIFAR-10 spans 0.27..0.73 (no background).
DARK_BORDER, LIGHT_BORDER = 0.35, 0.65
FOREGROUND = 0.25  # pixels this far from the background count as object, for `object_fill`


def photo_domain(x: torch.Tensor) -> dict:
    """How a photo must look to resemble the training images, for `bakeoff predict`/`serve`.

    background: 'dark' (light object on dark, e.g. MNIST), 'light', or 'none' (natural images);
    object_fill: median share of the side the object spans (MNIST 0.71: 20 px of 28; Fashion-MNIST 1.0).
    """
    g = x[:: max(1, len(x) // 4000)].float().mean(1) / 255  # (N, H, W) gray, at most ~4,000 images
    border = torch.cat([g[:, 0, :], g[:, -1, :], g[:, 1:-1, 0], g[:, 1:-1, -1]], dim=1).mean(1)  # (N,)
    lo, hi = torch.quantile(border, torch.tensor([0.1, 0.9])).tolist()
    background = "dark" if hi < DARK_BORDER else "light" if lo > LIGHT_BORDER else "none"
    if background == "none":
        return {"background": background, "object_fill": None}
    fg = (g > FOREGROUND) if background == "dark" else (g < 1 - FOREGROUND)  # (N, H, W)
    extent = torch.maximum(_extent(fg.any(2)), _extent(fg.any(1))).float() / g.shape[1]
    return {"background": background, "object_fill": round(float(extent.median().clamp(0.3, 1.0)), 3)}


def _extent(mask: torch.Tensor) -> torch.Tensor:
    """(N, L) bool -> (N,) span from first to last True (0 where none)."""
    idx = torch.arange(mask.shape[1])
    first = torch.where(mask, idx, mask.shape[1]).min(1).values
    last = torch.where(mask, idx, -1).max(1).values
    return (last - first + 1).clamp_min(0)

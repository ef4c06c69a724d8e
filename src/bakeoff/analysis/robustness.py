"""Robustness: accuracy on test images under common corruptions, ImageNet-C style, at three severities.

Hendrycks & Dietterich 2019 corrupt every test image in 15 ways at 5 severities; bakeoff keeps the kinds
a camera or a pipeline really produces (noise, blur, contrast, brightness, JPEG, a small rotation or shift)
at three severities, the paper's 1, 3 and 5 where it gives pixel values. Every corruption is a batched
tensor operation on the uint8 images (JPEG: a Pillow round trip per image), and its randomness comes from
a generator seeded by the run's seed, the corruption and the severity: every model of a seed sees exactly
the same corrupted images, and running it again gives the same numbers.
"""
from __future__ import annotations

import io
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.pixels import normalize
from ..engine.epoch import evaluate, Split

MAX_IMAGES = 2000  # test images corrupted per run: 21 passes over 10,000 would cost more than some trainings;
# 2,000 give accuracies within about 1.1 points (standard error at 50%), enough to rank drops of several points

# Per corruption, its three severities (mild, medium, severe), in the unit its function takes.
SEVERITIES = {
    "gaussian_noise": (0.08, 0.18, 0.38),  # std on the 0..1 scale: ImageNet-C severities 1, 3, 5
    "blur": (0.02, 0.035, 0.05),  # Gaussian sigma as a fraction of the image side (0.64, 1.12, 1.6 px at 32 px)
    "contrast": (0.4, 0.2, 0.05),  # contrast kept around each image's mean: ImageNet-C 1, 3, 5
    "brightness": (0.1, 0.3, 0.5),  # added to every pixel, 0..1 scale: ImageNet-C 1, 3, 5
    "jpeg": (30, 15, 7),  # JPEG quality (ImageNet-C: 25, 15, 7)
    "rotate": (5, 10, 20),  # degrees, clockwise or not at random per image
    "shift": (0.05, 0.1, 0.2),  # fraction of the side, each axis either way at random per image
}
CORRUPTIONS = tuple(SEVERITIES)


def corrupt(x: torch.Tensor, name: str, severity: int, seed: int) -> torch.Tensor:
    """uint8 (N, C, H, W) images corrupted by `name` at `severity` (1..3), deterministic for a seed."""
    if name not in SEVERITIES:
        raise KeyError(f"unknown corruption '{name}'; choose from: {', '.join(CORRUPTIONS)}")
    level = SEVERITIES[name][severity - 1]
    gen = torch.Generator().manual_seed(1000 * seed + 10 * CORRUPTIONS.index(name) + severity)
    if name == "jpeg":
        return _jpeg(x, level)
    img = x.float() / 255  # (N, C, H, W) in 0..1
    if name == "gaussian_noise":
        img = img + level * torch.randn(img.shape, generator=gen)
    elif name == "blur":
        img = _gaussian_blur(img, level * img.shape[-1])
    elif name == "contrast":
        mean = img.mean(dim=(1, 2, 3), keepdim=True)
        img = (img - mean) * level + mean
    elif name == "brightness":
        img = img + level
    elif name == "rotate":
        sign = torch.randint(0, 2, (len(img),), generator=gen) * 2 - 1
        img = _affine(img, angle=sign * math.radians(level), shift=torch.zeros(len(img), 2))
    elif name == "shift":
        sign = torch.randint(0, 2, (len(img), 2), generator=gen) * 2 - 1
        img = _affine(img, angle=torch.zeros(len(img)), shift=2 * level * sign)  # grid units: the side is 2
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


def _gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, sigma in pixels, edges reflected; each channel on its own."""
    radius = min(max(1, math.ceil(3 * sigma)), img.shape[-1] - 1)  # reflect padding needs a pad below the side
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    c = img.shape[1]
    img = F.pad(img, (radius, radius, radius, radius), mode="reflect")
    img = F.conv2d(img, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)  # along rows
    return F.conv2d(img, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)  # along columns


def _affine(img: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate each image by `angle` (N,) radians and move it by `shift` (N, 2) grid units; edge pixels repeat."""
    cos, sin = torch.cos(angle.float()), torch.sin(angle.float())
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0].float()], 1),
                         torch.stack([sin, cos, shift[:, 1].float()], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Each image saved as a JPEG of this quality and read back (grey stays grey, colour stays RGB)."""
    out = []
    for img in x.numpy():  # (C, H, W)
        pixels = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "JPEG", quality=int(quality))
        back = np.asarray(Image.open(buf))
        out.append(back[None] if back.ndim == 2 else back.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def image_subset(n: int, seed: int, limit: int = MAX_IMAGES) -> torch.Tensor:
    """Indices of the test images corrupted: all of them up to `limit`, else a random `limit`, fixed by the seed."""
    if n <= limit:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit].sort().values


def measure(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, mean: list[float], std: list[float], seed: int,
            device: torch.device, precision: str) -> dict:
    """Accuracy of `model` on uint8 test images (N, C, H, W) clean and under every corruption and severity.

    Returns clean_acc, accuracy {corruption: [severity 1, 2, 3]}, mean_corrupted_acc (over all 21),
    relative_drop (1 - mean corrupted / clean), by_severity (mean over corruptions), n_images, seconds.
    """
    start = time.perf_counter()
    idx = image_subset(len(y), seed)
    x, y = x[idx], y[idx].to(device)

    def accuracy(images: torch.Tensor) -> float:
        return evaluate(model, Split(normalize(images, mean, std).to(device), y), device, precision).acc

    clean = accuracy(x)
    table = {name: [accuracy(corrupt(x, name, s, seed)) for s in (1, 2, 3)] for name in CORRUPTIONS}
    corrupted = float(np.mean([a for accs in table.values() for a in accs]))
    return {"clean_acc": clean, "accuracy": table, "mean_corrupted_acc": corrupted,
            "relative_drop": 1 - corrupted / clean if clean > 0 else None,
            "by_severity": [float(np.mean([accs[s] for accs in table.values()])) for s in range(3)],
            "n_images": len(idx), "seconds": time.perf_counter() - start}

"""A whitened, frozen first layer (airbench's patch-whitening initialisation), for `--whiten-stem`.

The stem convolution's filters are set to the eigenvectors of the covariance of the training images' patches,
each scaled by one over the square root of its eigenvalue, in pairs of opposite sign (a ReLU-like activation
after it keeps both halves); they are then frozen. The network starts from decorrelated inputs of equal
variance, which airbench found speeds up early training. Only training images are read, never validation or
test. Measured on Fashion-MNIST in docs/speed.md.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

PATCH_IMAGES = 10_000  # enough patches for a stable covariance (28x28 images: 7.8 million patches)
EPS = 1e-2  # added to the eigenvalues: the smallest directions are mostly noise, and would be blown up


def patch_whitening_filters(images: torch.Tensor, kernel_size: int, count: int) -> torch.Tensor:
    """`count` filters (count, C, k, k): the leading eigenvectors of the patches' covariance / sqrt(eigenvalue),
    each followed by its negative (count // 2 pairs; at most 2 x C*k*k)."""
    values, vectors = torch.linalg.eigh(_patch_covariance(images[:PATCH_IMAGES], kernel_size))  # ascending
    values, vectors = values.flip(0), vectors.flip(1)
    c, k = images.shape[1], kernel_size
    pairs = min(count // 2, c * k * k)
    filters = (vectors[:, :pairs] / (values[:pairs] + EPS).sqrt()).T.float()  # (pairs, C*k*k)
    return torch.cat([filters, -filters]).reshape(2 * pairs, c, k, k)


def _patch_covariance(images: torch.Tensor, k: int, chunk: int = 1000) -> torch.Tensor:
    """The (C*k*k)^2 covariance of every k x k patch, summed a chunk of images at a time (all the patches of
    10,000 RGB images at once would take about a gigabyte)."""
    dims = images.shape[1] * k * k
    total, outer, count = torch.zeros(dims, dtype=torch.float64), torch.zeros(dims, dims, dtype=torch.float64), 0
    for part in images.split(chunk):
        patches = F.unfold(part.float().contiguous(), k, padding=k // 2).transpose(1, 2).reshape(-1, dims)
        total += patches.sum(0).double().cpu()
        outer += (patches.T @ patches).double().cpu()  # fp32 per chunk, summed in fp64
        count += len(patches)
    mean = total / count
    return outer / count - torch.outer(mean, mean)


def whiten_stem(model: nn.Module, images: torch.Tensor) -> None:
    """Set `model.stem_conv()` to the whitening of `images`' patches and freeze it. Channels beyond twice the
    patch size (a wide stem on grey images) keep their random filters, frozen too."""
    conv = model.stem_conv()
    filters = patch_whitening_filters(images, conv.kernel_size[0], conv.out_channels)
    with torch.no_grad():
        conv.weight[:len(filters)] = filters.to(conv.weight.device, conv.weight.dtype)
    conv.requires_grad_(False)

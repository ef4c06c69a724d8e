"""Training part of a model: frozen blocks held in eval mode, and backbone features computed once and cached."""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from .device import autocast

EVAL_BATCH = 1024  # images per batch without gradients: larger batches are faster and do not change results
EVAL_VALUES = EVAL_BATCH * 3 * 32 * 32  # ...up to a CIFAR-sized batch of input values: at 160x160 photos 1,024
# images would keep ~10 GB of activations alive in an ImageNet network; this caps a batch at 40 of them


def eval_batch_size(x: torch.Tensor, model: nn.Module | None = None) -> int:
    """Images per evaluation batch for inputs like `x` (N, C, H, W): 1,024 up to CIFAR's size, fewer above.

    A model that upsamples small inputs itself (its `input_side`, e.g. ImageNet-pretrained efficientnet-lite)
    is sized by what it computes on: 32 px CIFAR images seen at 128 px hold 16x the activations.
    """
    per_image = max(x[0].numel(), 1) if len(x) else 1
    inner = getattr(model, "model", model)  # the wrappers here and in objectives.py hold the model as .model
    if x.dim() == 4 and hasattr(inner, "input_side"):
        per_image = x.shape[1] * max(x.shape[-1], inner.input_side()) ** 2
    return max(16, min(EVAL_BATCH, EVAL_VALUES // per_image))
CACHE_LIMIT_BYTES = 4 * 2**30  # larger feature caches (e.g. resnet50 at 224x224: 400 KB per image) run uncached


class PartlyFrozen(nn.Module):
    """`model` with some blocks held in eval mode whatever `train()` says (frozen BatchNorm, no dropout)."""

    def __init__(self, model: nn.Module, frozen: list[nn.Module]):
        super().__init__()
        self.model = model
        self._frozen = list(frozen)  # a plain list: not registered twice in the state_dict

    def train(self, mode: bool = True):
        super().train(mode)
        for block in self._frozen:
            block.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class HeadOnly(nn.Module):
    """The head of `model` as a network of its own: cached features in, logits out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(features)


@contextlib.contextmanager
def frozen(blocks: list[nn.Module]):
    """No gradients for these blocks' parameters while inside; restored afterwards."""
    params = [p for b in blocks for p in b.parameters()]
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def extract_features(model: nn.Module, x: torch.Tensor, device: torch.device, precision: str) -> torch.Tensor:
    """forward_features over `x` in eval mode, batched: (N, ...) float32, the cache the head trains on."""
    model.eval()
    out = []
    batch = eval_batch_size(x, model)
    with torch.no_grad():  # not inference_mode: the head's autograd must be able to read these tensors
        for i in range(0, max(len(x), 1), batch):  # an empty split (--val-fraction 0) still gives (0, ...)
            with autocast(device, precision):
                f = model.forward_features(x[i:i + batch])
            out.append(f.float())
    return torch.cat(out)


def cache_bytes(model: nn.Module, sample: torch.Tensor, n: int) -> int:
    """Memory the cached features of `n` images would take."""
    model.eval()
    with torch.no_grad():
        return model.forward_features(sample[:1]).numel() * 4 * n

"""What a model costs: parameters, and FLOPs per image for inference and for a training step."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_mflops(model: nn.Module, in_chans: int, img_size: int) -> float:
    """Forward-pass MFLOPs for one image (a multiply-add counts as 2 FLOPs), counted by PyTorch."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = torch.zeros(1, in_chans, img_size, img_size, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() / 1e6


def train_mflops(model: nn.Module, in_chans: int, img_size: int) -> float:
    """MFLOPs of one training step per image: forward and backward, counted by PyTorch's flop counter.

    Counted on a copy, so the model's BatchNorm statistics and gradients are untouched. Backward is about
    twice the forward, less where no input gradient is needed (the first layer).
    """
    probe = copy.deepcopy(model).train()
    device = next(probe.parameters()).device
    batch = 2  # BatchNorm needs more than one value per channel in training mode
    x = torch.zeros(batch, in_chans, img_size, img_size, device=device)
    counter = FlopCounterMode(display=False)
    with counter:
        logits = probe(x)
        F.cross_entropy(logits, torch.zeros(batch, dtype=torch.long, device=device)).backward()
    return counter.get_total_flops() / batch / 1e6

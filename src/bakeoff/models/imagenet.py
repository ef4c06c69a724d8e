"""What the ImageNet backbones (vgg16, resnet50) share: gray -> RGB input and the seeds' dense head.

The backbones keep torchvision's module names, so its official weight files load
key for key. Their head is one of two:

  head="custom" (default, the seeds' transfer-learning head): global average pool,
      Linear(backbone width, 256) + ReLU + Dropout 0.5 (`pre_logits`), Linear(256, num_classes) (`fc`).
      The seeds put "dense layers with dropout" on an ImageNet backbone; the widths are ours.
  head="torchvision": torchvision's own head, exactly (VGG's 4096-4096 `classifier`, ResNet's `fc`),
      so at 1000 classes the whole state_dict equals torchvision's.

Either way `models/pretrained.py` loads every backbone key of an official file strictly
and reports the head keys it leaves out (with head="custom": all of them).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError

HEADS = ("custom", "torchvision")
HEAD_HIDDEN = 256  # width of the custom head's dense layer (Keras transfer-learning tutorials use 256)
HEAD_DROP = 0.5  # Dropout after it, the Keras tutorials' value


def check_options(name: str, in_chans: int, head: str) -> None:
    """ImageNet backbones see 3 channels: grayscale is repeated, anything else is refused."""
    if in_chans not in (1, 3):
        raise ConfigError(f"{name} takes 1 (repeated to RGB) or 3 input channels, got {in_chans}")
    if head not in HEADS:
        raise ConfigError(f"unknown head '{head}'; choose from: {', '.join(HEADS)}")


def to_rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B, 3, H, W) by repeating the gray channel; RGB passes through."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # a view; the first conv reads it like a 3-channel image
    return x


def dense_head(width: int) -> nn.Sequential:
    """The custom head's hidden part: Linear(width, 256) + ReLU + Dropout 0.5 -> (B, 256)."""
    return nn.Sequential(nn.Linear(width, HEAD_HIDDEN), nn.ReLU(inplace=True), nn.Dropout(HEAD_DROP))

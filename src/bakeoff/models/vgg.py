"""VGG-16 (Simonyan & Zisserman 2014, configuration "D") in torchvision's layout, for seeds 000 and 001.

`features` is torchvision's `make_layers(cfg "D")`: 13 conv 3x3 (pad 1) + ReLU
in five blocks, each closed by MaxPool 2 (keys features.0 ... features.28), so
torchvision's vgg16-397923af.pth loads unchanged. On inputs below 32x32 a pool
that would take a 1x1 map to 0x0 is nn.Identity (indices stay the same).
Grayscale is repeated to RGB; heads: see models/imagenet.py.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import ClassifierBase, make_layers
from .imagenet import check_options, dense_head, to_rgb
from .registry import register_model

CFG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
TORCHVISION_POOL = 7  # torchvision's AdaptiveAvgPool2d((7, 7)) before its 25088-wide classifier


class VGG(ClassifierBase):
    """features (conv stack) -> avgpool -> head; see the module docstring."""

    def __init__(self, num_classes: int, in_chans: int, img_size: int, cfg: list[int | str] = CFG_D,
                 head: str = "custom"):
        super().__init__(num_classes, in_chans, img_size)
        check_options("vgg16", in_chans, head)
        self.head = head
        layers, channels, _ = make_layers(cfg, 3, img_size, padding="same")
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten(1)
        if head == "torchvision":
            self.avgpool = nn.AdaptiveAvgPool2d(TORCHVISION_POOL)
            width = channels * TORCHVISION_POOL * TORCHVISION_POOL  # 25088
            self.classifier = nn.Sequential(
                nn.Linear(width, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                nn.Linear(4096, num_classes),
            )
            self.classifier_name = "classifier.6"
            self.num_features = 4096
        else:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.pre_logits = dense_head(channels)
            self.num_features = self.pre_logits[0].out_features
            self.fc = nn.Linear(self.num_features, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's VGG initialisation: He (fan_out) for convs, N(0, 0.01) for its linear layers."""
        for m in self.features.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        if self.head == "torchvision":
            for m in self.classifier.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def backbone_blocks(self) -> list[nn.Module]:
        """The five conv blocks (each ends at a pool), first to last: what --finetune-blocks counts."""
        blocks, current = [], []
        for layer, v in zip(self.features, _expand(CFG_D)):
            current.append(layer)
            if v == "M":
                blocks.append(nn.Sequential(*current))
                current = []
        return blocks

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = to_rgb(x)  # (B, 3, H, W)
        x = self.features(x)  # (B, 512, H/32, W/32)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.avgpool(x)  # (B, 512, 1, 1), or (B, 512, 7, 7) for the torchvision head
        x = self.flatten(x)
        if self.head == "torchvision":
            x = self.classifier[:6](x)  # (B, 4096)
            return x if pre_logits else self.classifier[6](x)
        x = self.pre_logits(x)  # (B, 256)
        if pre_logits:
            return x
        x = self.fc(x)  # (B, num_classes)
        return x



def _expand(cfg: list[int | str]) -> list[int | str]:
    """cfg with one entry per layer of `make_layers` (a conv is followed by its ReLU), aligned with `features`."""
    out: list[int | str] = []
    for v in cfg:
        out += ["M"] if v == "M" else [v, "relu"]
    return out


@register_model("vgg16")
def vgg16(num_classes: int, in_chans: int, img_size: int, **kwargs) -> VGG:
    """VGG-16 (seed 000, seed 001 transfer learning): torchvision's layout (ImageNet weights load), dense head.

    14.7M backbone parameters; with the default head 14.85M in all at 10 classes.
    `head="torchvision"` gives torchvision's exact model (138.4M parameters at 1000 classes).
    """
    return VGG(num_classes, in_chans, img_size, **kwargs)

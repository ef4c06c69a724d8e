"""CIFAR-style residual networks: He et al. 2016, "Deep Residual Learning for Image Recognition", section 4.2.

Depth 6n+2: a 3x3 conv with 16 filters, three stages of n BasicBlocks with 16,
32, 64 filters (the 2nd and 3rd start with stride 2), global average pooling
and a linear layer. Shortcuts are the paper's option A for CIFAR (identity,
subsampled and zero-padded in channels when the shape changes: no parameters),
which gives the paper's sizes: resnet20 0.27M ... resnet110 1.7M. Option B
(1x1 conv + BN projection, `shortcut="B"`) is there for comparison.

Any input size works: the stride-2 convs use padding 1, so a side of s becomes
ceil(s/2); 8x8 ends in a 2x2 map, 1x1 stays 1x1. Module names follow
torchvision's ResNet (conv1, bn1, layer1..3, downsample, fc).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from .base import ClassifierBase
from .registry import register_model


class PadShortcut(nn.Module):
    """Option A shortcut: subsample by `stride`, zero-pad channels from in_planes to planes."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad = planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, in_planes, ceil(H/s), ceil(W/s)), as the strided conv
        x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))  # (B, planes, ...)
        return x


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, then ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "A"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            if shortcut == "A":
                self.downsample = PadShortcut(in_planes, planes, stride)
            else:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes),
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv1(x)  # (B, planes, H/stride, W/stride)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out += identity  # in place: BN's backward does not need its output
        out = self.relu(out)
        return out


class CifarResNet(ClassifierBase):
    """ResNet-(6n+2) for small images; see the module docstring."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        img_size: int,
        depth: int = 20,  # 6n+2: 20, 32, 44, 56, 110 in the paper
        shortcut: str = "A",  # the paper's CIFAR choice: parameter-free
        widths: tuple[int, int, int] = (16, 32, 64),  # filters per stage, the paper's
    ):
        super().__init__(num_classes, in_chans, img_size)
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110); got {depth}")
        if shortcut not in ("A", "B"):
            raise ConfigError(f"unknown shortcut '{shortcut}'; choose from: A, B")
        n = (depth - 2) // 6
        self.depth = depth
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        in_planes = widths[0]
        stages = []
        for i, planes in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(BasicBlock(in_planes, planes, stride, shortcut))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.num_features = in_planes
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # He init, as the paper

    def backbone_blocks(self) -> list[nn.Module]:
        """Stem (conv, BN, ReLU), layer1, layer2, layer3, input first."""
        return [nn.Sequential(self.conv1, self.bn1, self.relu), self.layer1, self.layer2, self.layer3]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)  # (B, 16, H, W)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.layer1(x)  # (B, 16, H, W)
        x = self.layer2(x)  # (B, 32, H/2, W/2)
        x = self.layer3(x)  # (B, 64, H/4, W/4)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)  # (B, 64, 1, 1)
        x = self.flatten(x)  # (B, 64)
        if pre_logits:
            return x
        x = self.fc(x)  # (B, num_classes)
        return x



@register_model("resnet20", traits=("any_size", "linear_head"))
def resnet20(num_classes: int, in_chans: int, img_size: int, **kwargs) -> CifarResNet:
    """ResNet-20 (CIFAR, He et al. 2016, n=3, 0.27M params) for seed 003's ResNet rows."""
    return CifarResNet(num_classes, in_chans, img_size, depth=20, **kwargs)


@register_model("resnet32", traits=("any_size", "linear_head"))
def resnet32(num_classes: int, in_chans: int, img_size: int, **kwargs) -> CifarResNet:
    """ResNet-32 (CIFAR, He et al. 2016, n=5, 0.46M params) for seed 003's ResNet rows."""
    return CifarResNet(num_classes, in_chans, img_size, depth=32, **kwargs)


@register_model("resnet44", traits=("any_size", "linear_head"))
def resnet44(num_classes: int, in_chans: int, img_size: int, **kwargs) -> CifarResNet:
    """ResNet-44 (CIFAR, He et al. 2016, n=7, 0.66M params) for seed 003's ResNet rows."""
    return CifarResNet(num_classes, in_chans, img_size, depth=44, **kwargs)


@register_model("resnet56", traits=("any_size", "linear_head"))
def resnet56(num_classes: int, in_chans: int, img_size: int, **kwargs) -> CifarResNet:
    """ResNet-56 (CIFAR, He et al. 2016, n=9, 0.85M params) for seed 003's ResNet rows."""
    return CifarResNet(num_classes, in_chans, img_size, depth=56, **kwargs)


@register_model("resnet110", traits=("any_size", "linear_head"))
def resnet110(num_classes: int, in_chans: int, img_size: int, **kwargs) -> CifarResNet:
    """ResNet-110 (CIFAR, He et al. 2016, n=18, 1.7M params) for seed 003's ResNet rows."""
    return CifarResNet(num_classes, in_chans, img_size, depth=110, **kwargs)

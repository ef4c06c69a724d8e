"""ResNet-50 (He et al. 2016, "Deep Residual Learning", table 1) in torchvision's layout, for seeds 000 and 003.

torchvision's v1.5 Bottleneck (the stride sits on the 3x3 conv) with projection
shortcuts `downsample.0/1`; stages layer1..layer4 hold [3, 4, 6, 3] blocks. Module
names follow torchvision/models/resnet.py, so resnet50-0676ba61.pth loads
unchanged. Any input side >= 1 works (a 32x32 image leaves a 1x1 map after
layer4); grayscale is repeated to RGB. Heads: see models/imagenet.py.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import ClassifierBase
from .imagenet import check_options, dense_head, to_rgb
from .registry import register_model


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand x4, each with BN; shortcut added, then ReLU."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv1(x)  # (B, planes, H, W)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)  # (B, planes, H/stride, W/stride)
        out = self.bn2(out)
        out = self.relu(out)
        out = self.conv3(out)  # (B, 4*planes, H/stride, W/stride)
        out = self.bn3(out)
        out += identity
        out = self.relu(out)
        return out


class ImageNetResNet(ClassifierBase):
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max-pool) -> layer1..4 -> global average pool -> head."""

    def __init__(self, num_classes: int, in_chans: int, img_size: int,
                 layers: tuple[int, ...] = (3, 4, 6, 3),  # ResNet-50's blocks per stage
                 head: str = "custom"):
        super().__init__(num_classes, in_chans, img_size)
        check_options("resnet50", in_chans, head)
        self.head = head
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_planes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
            stage = []
            for j in range(blocks):
                stride = 2 if i > 1 and j == 0 else 1
                stage.append(Bottleneck(in_planes, planes, stride))
                in_planes = planes * Bottleneck.expansion
            setattr(self, f"layer{i}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        if head == "torchvision":
            self.num_features = in_planes  # 2048
        else:
            self.pre_logits = dense_head(in_planes)
            self.num_features = self.pre_logits[0].out_features
        self.fc = nn.Linear(self.num_features, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def backbone_blocks(self) -> list[nn.Module]:
        """Stem, layer1, layer2, layer3, layer4, first to last: what --finetune-blocks counts."""
        stem = nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool)
        return [stem, self.layer1, self.layer2, self.layer3, self.layer4]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = to_rgb(x)  # (B, 3, H, W)
        x = self.conv1(x)  # (B, 64, H/2, W/2)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)  # (B, 64, H/4, W/4)
        x = self.layer1(x)  # (B, 256, H/4, W/4)
        x = self.layer2(x)  # (B, 512, H/8, W/8)
        x = self.layer3(x)  # (B, 1024, H/16, W/16)
        x = self.layer4(x)  # (B, 2048, H/32, W/32)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.avgpool(x)  # (B, 2048, 1, 1)
        x = self.flatten(x)  # (B, 2048)
        if self.head == "custom":
            x = self.pre_logits(x)  # (B, 256)
        if pre_logits:
            return x
        x = self.fc(x)  # (B, num_classes)
        return x



@register_model("resnet50", traits=("any_size",))
def resnet50(num_classes: int, in_chans: int, img_size: int, **kwargs) -> ImageNetResNet:
    """ResNet-50 (He et al. 2016; seed 000, seed 003 transfer learning): torchvision's layout, dense head.

    23.5M backbone parameters; with the default head 24.04M in all at 10 classes.
    `head="torchvision"` gives torchvision's exact model (25.56M parameters at 1000 classes).
    """
    return ImageNetResNet(num_classes, in_chans, img_size, **kwargs)

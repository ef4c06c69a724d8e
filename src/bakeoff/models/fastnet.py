"""`fast-net`: a small network built for time-to-accuracy, after Keller Jordan's airbench (CIFAR-10 speed records).

Stem conv, then three blocks of conv -> max-pool -> BatchNorm -> GELU -> conv -> BatchNorm -> GELU, a global
max-pool and a bias-free linear layer whose logits are scaled down (airbench's 1/9: large logits early in
training make the loss saturate). Pooling right after each block's first conv keeps most of the arithmetic
at the lower resolutions, which is what makes it cheap on 2 CPU cores. Widths are options; the defaults were
measured for the `--recipe fast` presets (see config/recipes.py and bench/time_to_accuracy.py).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import ClassifierBase, split_after_pools
from .registry import register_model


def conv_bn(cin: int, cout: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers + [nn.BatchNorm2d(cout), nn.GELU()]


class ScaledLinear(nn.Linear):
    """A bias-free linear layer whose output is multiplied by a constant (kept out of the weights, so the
    gradients see the small logits too)."""

    def __init__(self, in_features: int, out_features: int, scale: float):
        super().__init__(in_features, out_features, bias=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.scale


class FastNet(ClassifierBase):
    def __init__(self, num_classes: int, in_chans: int, img_size: int, widths: tuple[int, ...] = (32, 64, 128, 256),
                 logit_scale: float = 1 / 9):
        super().__init__(num_classes, in_chans, img_size)
        stem, *blocks = widths
        layers = conv_bn(in_chans, stem, pool=False)
        size, cin, pools = img_size, stem, 0
        for width in blocks:
            pool = size >= 2  # an 8x8 input (digits) pools to 1x1 and stops there
            size = size // 2 if pool else size
            pools += pool
            layers += conv_bn(cin, width, pool) + conv_bn(width, width, pool=False)
            cin = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.flatten = nn.Flatten(1)
        self.num_features = cin
        self.logit_scale = logit_scale
        self.fc = self.new_classifier(num_classes)
        self.widths = tuple(widths)
        self.min_input_size = 2 ** pools  # smaller images would pool to nothing (--progressive-resize)

    def new_classifier(self, num_classes: int) -> nn.Module:
        """The scaled, bias-free head: a transfer run's fresh head has the keys and scale of the source's."""
        return ScaledLinear(self.num_features, num_classes, self.logit_scale)

    def stem_conv(self) -> nn.Conv2d:
        """The first convolution, which sees the pixels (--whiten-stem sets it from the data)."""
        return self.features[0]

    def backbone_blocks(self) -> list[nn.Module]:
        """The conv stack cut after each pool, input first."""
        return split_after_pools(list(self.features))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # (B, C, h, w)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(self.pool(x))  # (B, C)
        if pre_logits:
            return x
        return self.fc(x)  # (B, num_classes)



@register_model("fast-net", traits=("any_size", "stem", "linear_head"))
def fast_net(num_classes: int, in_chans: int, img_size: int, widths=(32, 64, 128, 256), **kwargs) -> FastNet:
    """airbench-style speed network: stem + 3 conv-pool-BN-GELU blocks, global max-pool, scaled linear head."""
    return FastNet(num_classes, in_chans, img_size, widths=tuple(widths), **kwargs)


@register_model("fast-net-s", traits=("any_size", "stem", "linear_head"))
def fast_net_s(num_classes: int, in_chans: int, img_size: int, **kwargs) -> FastNet:
    """fast-net at half the widths (airbench-style; 16-32-64-128 channels), a quarter of its FLOPs: the
    `--recipe fast` network for Fashion-MNIST (docs/speed.md gives its measured throughput)."""
    return FastNet(num_classes, in_chans, img_size, widths=(16, 32, 64, 128), **kwargs)


@register_model("fast-net-xs", traits=("any_size", "stem", "linear_head"))
def fast_net_xs(num_classes: int, in_chans: int, img_size: int, **kwargs) -> FastNet:
    """fast-net (airbench-style) at half of fast-net-s's widths, 8-16-32-64 channels: the `--recipe fast`
    network for MNIST (docs/speed.md gives its measured throughput)."""
    return FastNet(num_classes, in_chans, img_size, widths=(8, 16, 32, 64), **kwargs)

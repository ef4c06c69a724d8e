"""Plain convolutional networks from the seed projects: conv stack, flatten, dense layers.

All three adapt to the input: the flatten size is computed from `img_size` by
`make_layers`. The seeds' valid (unpadded) convolutions are kept whenever the
whole stack still leaves a map >= 1x1; on smaller inputs (e.g. 8x8 for
`basic-cnn`) every conv switches to 'same' padding and a pool that would take a
1x1 map to 0x0 is skipped (nn.Identity). The model's `padding` attribute says which.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import ClassifierBase, make_layers, resolve_padding, split_after_pools
from .registry import register_model


class ConvNet(ClassifierBase):
    """features (conv stack) -> flatten -> pre_logits (dense + ReLU [+ Dropout] per hidden width) -> fc."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        img_size: int,
        cfg: list[int | str],  # conv widths and "M" pools, torchvision-VGG style
        hidden: tuple[int, ...],  # dense widths between flatten and fc; 0 means "the flatten size"
        padding: str = "auto",  # valid convs where they fit, else same (see module docstring)
        batch_norm: bool = False,
        feature_drop: float = 0.0,  # Dropout after the conv stack (seed 004: 0.2)
        drop_rate: float = 0.0,  # Dropout after each hidden dense ReLU
    ):
        super().__init__(num_classes, in_chans, img_size)
        self.padding = resolve_padding(cfg, img_size, padding)
        layers, channels, size = make_layers(cfg, in_chans, img_size, self.padding, batch_norm,
                                               pool_before_relu=True)
        if feature_drop > 0:
            layers.append(nn.Dropout(feature_drop))
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten(1)
        width = channels * size * size
        self.flatten_size = width
        dense: list[nn.Module] = []
        for h in hidden:
            h = h or self.flatten_size
            dense.append(nn.Linear(width, h))
            dense.append(nn.ReLU(inplace=True))
            if drop_rate > 0:
                dense.append(nn.Dropout(drop_rate))
            width = h
        self.pre_logits = nn.Sequential(*dense)
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)

    def backbone_blocks(self) -> list[nn.Module]:
        """The conv stack cut after each pool, input first."""
        return split_after_pools(list(self.features))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, C, h, w)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(x)  # (B, C*h*w), a copy when x is channels-last
        x = self.pre_logits(x)  # (B, num_features)
        if pre_logits:
            return x
        x = self.fc(x)  # (B, num_classes)
        return x



@register_model("simple-cnn")
def simple_cnn(num_classes: int, in_chans: int, img_size: int, hidden_dim: int | None = None, **kwargs) -> ConvNet:
    """Seed 004's Fashion-MNIST CNN: Conv 32 3x3 valid + ReLU, MaxPool 2, Dropout 0.2, Dense(flatten size) + ReLU, Dense.

    Exactly the seed's Keras summary on 28x28x1 / 10 classes: flatten 13*13*32 =
    5408, a 5408 -> 5408 dense layer, 29,306,282 parameters. The hidden width
    equals the flatten size for any input, as in the seed; that grows with the
    square of the image area (3x32x32: 51.9M parameters, 3x64x64: 946M), so
    `hidden_dim` overrides it for large folder images.
    """
    return ConvNet(
        num_classes, in_chans, img_size,
        cfg=[32, "M"],
        hidden=(hidden_dim or 0,),  # 0: the flatten size, the seed's rule
        feature_drop=0.2,
        **kwargs,
    )


@register_model("cnn4")
def cnn4(num_classes: int, in_chans: int, img_size: int, **kwargs) -> ConvNet:
    """Seed 000's "CNN Model 1": 4 conv layers, 3 max-pool layers, 4 dense layers (Fashion-MNIST, 87.98% reported).

    The seed gives only the layer counts; widths are ours: Conv 32, 32 | pool |
    64 | pool | 128 | pool, then Dense 256, 128, 64, num_classes. Convs are 3x3
    'same' (the map shrinks only at pools: 28 -> 14 -> 7 -> 3) with BatchNorm
    before each ReLU (trains faster than the plain Keras stack); Dropout 0.25
    after each hidden dense layer.
    """
    kwargs = {"padding": "same", "batch_norm": True, "drop_rate": 0.25, **kwargs}
    return ConvNet(
        num_classes, in_chans, img_size,
        cfg=[32, 32, "M", 64, "M", 128, "M"],
        hidden=(256, 128, 64),
        **kwargs,
    )


@register_model("basic-cnn")
def basic_cnn(num_classes: int, in_chans: int, img_size: int, **kwargs) -> ConvNet:
    """Seed 003's basic CIFAR-10 CNN, the TensorFlow tutorial one: Conv 32, pool, Conv 64, pool, Conv 64, Dense 64.

    All convs 3x3 valid + ReLU, MaxPool 2, then Flatten, Dense 64 + ReLU,
    Dense num_classes: 122,570 parameters on 3x32x32 / 10 classes, as in the
    tutorial. Below 18x18 the valid stack would vanish, so convs use 'same' padding.
    """
    return ConvNet(
        num_classes, in_chans, img_size,
        cfg=[32, "M", 64, "M", 64],
        hidden=(64,),
        **kwargs,
    )

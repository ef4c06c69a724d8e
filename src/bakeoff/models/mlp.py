"""A fully connected baseline: what every convolutional model has to beat."""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import ClassifierBase
from .registry import register_model


class MLP(ClassifierBase):
    """Flatten -> [Linear -> ReLU -> Dropout] per hidden width -> Linear num_classes.

    Features are the last hidden layer's activations (B, hidden[-1]); the head is
    the final linear layer alone.
    """

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        img_size: int,
        hidden: tuple[int, ...] = (512, 256),  # two hidden layers, the classic MNIST MLP baseline
        drop_rate: float = 0.2,  # after each hidden ReLU
    ):
        super().__init__(num_classes, in_chans, img_size)
        self.flatten = nn.Flatten(1)
        layers: list[nn.Module] = []
        width = in_chans * img_size * img_size
        for h in hidden:
            layers.append(nn.Linear(width, h))
            layers.append(nn.ReLU(inplace=True))
            layers.append(nn.Dropout(drop_rate))
            width = h
        self.hidden = nn.Sequential(*layers)
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)

    def backbone_blocks(self) -> list[nn.Module]:
        """One block per hidden layer (Linear, ReLU, Dropout), input first."""
        layers = list(self.hidden)
        starts = sorted({0} | {i for i, m in enumerate(layers) if isinstance(m, nn.Linear)}) if layers else []
        return [nn.Sequential(*layers[a:b]) for a, b in zip(starts, starts[1:] + [len(layers)])]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)  # (B, C*H*W)
        x = self.hidden(x)  # (B, hidden[-1])
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if pre_logits:
            return x
        x = self.fc(x)  # (B, num_classes)
        return x


@register_model("mlp", traits=("linear_head",))
def mlp(num_classes: int, in_chans: int, img_size: int, **kwargs) -> MLP:
    """MLP baseline: Flatten, Linear 512, ReLU, Dropout 0.2, Linear 256, ReLU, Dropout 0.2, Linear num_classes."""
    return MLP(num_classes, in_chans, img_size, **kwargs)

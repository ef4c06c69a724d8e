"""The one in-memory form every source format loads into."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Dataset:
    """A labelled image dataset held entirely in memory.

    Images are uint8 (N, C, H, W); labels int64 (N,). Class names are as the
    publisher gives them, indexed by label.
    """

    name: str
    classes: list[str]
    x_train: torch.Tensor  # (N, C, H, W) uint8
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor  # (M, C, H, W) uint8
    y_test: torch.Tensor  # (M,) int64
    source: str = ""  # where the files were found, for reports and `bakeoff datasets`
    meta: dict = field(default_factory=dict)  # e.g. skipped files of a folder dataset

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_chans(self) -> int:
        return self.x_train.shape[1]

    @property
    def img_size(self) -> int:
        return self.x_train.shape[2]

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the training images, on the 0..1 scale."""
        x = self.x_train.float().div_(255)  # (N, C, H, W)
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)  # a constant channel must not divide by 0
        return mean.tolist(), std.tolist()

    def summary(self) -> dict:
        return {
            "name": self.name,
            "classes": list(self.classes),
            "n_train": int(self.y_train.numel()),
            "n_test": int(self.y_test.numel()),
            "shape": [self.in_chans, self.img_size, self.x_train.shape[3]],
            "source": self.source,
        }

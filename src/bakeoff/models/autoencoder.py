"""Seed 001's convolutional autoencoder: an encoder that feeds a dense classifier, and a mirrored decoder.

Encoder: four blocks, each Conv 3x3 ('same') + ReLU then MaxPool 2 (widths 32,
64, 128, 256; 28x28 -> 14 -> 7 -> 3 -> 1), flatten, and a linear layer to the
code of `latent_dim` numbers (linear, like PCA's components, so the two compare
fairly). Decoder, the mirror image: Linear + ReLU back to the last map, then per
block nearest-neighbour upsampling to that block's input size and Conv 3x3 + ReLU
(the last conv has no ReLU: targets are standardized images, not 0..1).
Classifier on the code: BatchNorm (standardizes the code), Dense 256 + ReLU + Dropout,
Dense 128 + ReLU + Dropout, Dense num_classes (seed 001's three dense layers; the widths are ours).

`forward(x)` returns logits like every model; `reconstruct(x)` returns the decoded
image. engine/stages.py trains it in stages (reconstruction first).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .base import ClassifierBase, make_layers
from .registry import register_model

WIDTHS = (32, 64, 128, 256)  # filters per encoder block
LATENT_DIM = 64  # code size; also the number of PCA components it is compared with
CLASSIFIER_HIDDEN = (256, 128)
DROP_RATE = 0.25  # after each hidden dense ReLU, as cnn4


class ConvAutoencoder(ClassifierBase):
    """encoder -> code (B, latent_dim) -> pre_logits -> fc; decoder: code -> (B, in_chans, H, W)."""

    def __init__(self, num_classes: int, in_chans: int, img_size: int, latent_dim: int = LATENT_DIM,
                 widths: tuple[int, ...] = WIDTHS):
        super().__init__(num_classes, in_chans, img_size)
        self.latent_dim = latent_dim
        cfg = [v for w in widths for v in (w, "M")]
        layers, channels, size = make_layers(cfg, in_chans, img_size, padding="same")
        self.features = nn.Sequential(*layers)  # 4 x (conv, relu, pool): torchvision-VGG key layout
        self.map_shape = (channels, size, size)  # encoder map before the code
        self.to_code = nn.Sequential(nn.Flatten(1), nn.Linear(channels * size * size, latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, channels * size * size), nn.ReLU(inplace=True),
            nn.Unflatten(1, self.map_shape),
            *_mirror(widths, in_chans, _block_sizes(img_size, len(widths))),
        )
        # BatchNorm first: codes trained for reconstruction vary little around a large mean (per-dimension std
        # ~0.1 of the mean on digits), and on raw codes the dense layers barely move in the first epochs.
        hidden: list[nn.Module] = [nn.BatchNorm1d(latent_dim)]
        width = latent_dim
        for h in CLASSIFIER_HIDDEN:
            hidden += [nn.Linear(width, h), nn.ReLU(inplace=True), nn.Dropout(DROP_RATE)]
            width = h
        self.pre_logits = nn.Sequential(*hidden)
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)

    @classmethod
    def tunable(cls) -> dict[str, tuple]:
        """Code size 16..256 on a log scale (the default 64 is its geometric middle); input noise off or up to
        the Keras tutorials' 0.5, as a few levels: 0 must stay reachable, a plain autoencoder may win."""
        return {"latent_dim": ("int", 16, 256, True), "denoise": ("categorical", [0.0, 0.1, 0.3, 0.5])}

    def backbone_blocks(self) -> list[nn.Module]:
        """The four encoder blocks (conv, ReLU, pool); the last one carries the code layer."""
        blocks = [nn.Sequential(*self.features[i:i + 3]) for i in range(0, len(self.features), 3)]
        blocks[-1] = nn.Sequential(*blocks[-1], self.to_code)
        return blocks

    def auxiliary_modules(self) -> list[nn.Module]:
        """The decoder: trained to reconstruct, never with the classifier."""
        return [self.decoder]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 256, h, w): 1x1 at 28x28, 2x2 at 32x32
        x = self.to_code(x)  # (B, latent_dim)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pre_logits(x)  # (B, 128)
        if pre_logits:
            return x
        x = self.fc(x)  # (B, num_classes)
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes (B, latent_dim) -> images (B, in_chans, img_size, img_size), standardized like the inputs."""
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.forward_features(x))



def _block_sizes(img_size: int, blocks: int) -> list[int]:
    """Map side entering each encoder block (a pool on a 1x1 map is skipped, as in make_layers)."""
    sizes, size = [], img_size
    for _ in range(blocks):
        sizes.append(size)
        size = size // 2 if size >= 2 else size
    return sizes


def _mirror(widths: tuple[int, ...], in_chans: int, sizes: list[int]) -> list[nn.Module]:
    """Decoder blocks, last encoder block first: upsample to the block's input side, conv to its input width."""
    layers: list[nn.Module] = []
    outs = (in_chans, *widths[:-1])  # each encoder block's input width
    for k in reversed(range(len(widths))):
        layers.append(nn.Upsample(size=sizes[k], mode="nearest"))
        layers.append(nn.Conv2d(widths[k], outs[k], 3, padding=1))
        if k > 0:
            layers.append(nn.ReLU(inplace=True))
    return layers


@register_model("autoencoder")
def autoencoder(num_classes: int, in_chans: int, img_size: int, **kwargs) -> ConvAutoencoder:
    """Seed 001's convolutional autoencoder (92.34% on Fashion-MNIST): 4 conv blocks, mirrored decoder, 3 dense.

    Trained in stages (reconstruction, then the classifier on the frozen encoder,
    then optionally fine-tuned with --finetune-blocks); `latent_dim` sets the code size.
    """
    return ConvAutoencoder(num_classes, in_chans, img_size, **kwargs)

"""What a training stage minimises, batch by batch: the class labels, or (an autoencoder's first stage) the input.

`run_epoch` feeds the model `objective.inputs(x, training)` and scores its output with
`objective.loss(out, x, y, training)`, which returns the loss and, for classification, the logits
that accuracy is counted on. The loop itself is the same for both.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Classification:
    """Cross-entropy against the labels; label smoothing while training only (so losses compare across runs)."""

    classifies = True  # accuracy is counted on its logits
    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing
        self.generators: dict[str, torch.Generator] = {}

    def start_eval(self) -> None:
        pass

    def inputs(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return x

    def loss(self, out: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             training: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        smoothing = self.label_smoothing if training else 0.0
        return F.cross_entropy(out, y, label_smoothing=smoothing), out


class Noise:
    """Gaussian noise of std `sigma` on the 0..1 pixel scale, applied to standardized images, then clipped to 0..1."""

    def __init__(self, sigma: float, mean: list[float], std: list[float], device: torch.device):
        s = torch.tensor(std, device=device).view(1, -1, 1, 1)
        m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.sigma = sigma
        self.scale = sigma / s  # (1, C, 1, 1) std in standardized units
        self.low, self.high = (0 - m) / s, (1 - m) / s  # where 0 and 1 land after standardization

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.sigma == 0:
            return x
        n = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        return torch.maximum(torch.minimum(x + n * self.scale, self.high), self.low)


class Reconstruction:
    """Mean squared error between the model's output and the clean input (standardized units, per pixel).

    With noise (--denoise) the model sees the noisy image: a denoising autoencoder. Training noise comes
    from one stream (saved with the training state, so a resumed run draws what it would have drawn);
    validation draws the same noise every epoch, so its losses compare across epochs.
    """

    classifies = False  # no classes: history's accuracy columns stay empty

    def __init__(self, noise: Noise, seed: int, device: torch.device):
        self.noise = noise
        self.device = device
        self.eval_seed = seed + 2
        self.generators = {"noise": torch.Generator(device=device).manual_seed(seed + 1)}
        self.eval_gen = torch.Generator(device=device).manual_seed(self.eval_seed)

    def start_eval(self) -> None:
        self.eval_gen = torch.Generator(device=self.device).manual_seed(self.eval_seed)

    def inputs(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        return self.noise(x, self.generators["noise"] if training else self.eval_gen)

    def loss(self, out: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             training: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        return F.mse_loss(out, x), None


class Reconstructor(nn.Module):
    """An autoencoder seen as the network its first stage trains: image in, reconstruction out.

    A module of its own (not a method call) so DistributedDataParallel and the loop treat it like any model.
    """

    def __init__(self, autoencoder: nn.Module):
        super().__init__()
        self.model = autoencoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.reconstruct(x)  # (B, C, H, W), standardized like x

"""Where a model looks: Grad-CAM maps over its input, or input gradients for models without convolutions.

Grad-CAM (Selvaraju et al. 2017): the feature map A (C, h, w) of the model's CAM layer
(models/base.py `cam_layer`), each channel weighted by the mean gradient of the class score over it,
summed, passed through ReLU and upsampled to the image: the regions whose features raised that class's
score. A model with no convolution (mlp) gets |gradient of the class score| per input pixel instead
(Simonyan et al. 2014, "saliency maps"), said so by the method name returned.

Written here rather than taken from a library: torchcam (no torchvision needed) was checked and agrees
with this on our models (tests/test_cam.py), but needs Python 3.11 while bakeoff supports 3.10, and its
hook on a layer followed by an in-place ReLU records the activations after that ReLU.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

GRAD_CAM = "Grad-CAM"
INPUT_GRADIENTS = "input gradients"


def explain(model: nn.Module, x: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, str]:
    """Maps (B, H, W) in 0..1, each image's own maximum 1, of why `model` scores `classes` (B,) on `x`.

    `x` (B, C, H, W) normalized as the model was fed. Returns the maps and the method: 'Grad-CAM (layer)'
    or 'input gradients (no convolution)'.
    """
    layer = model.cam_layer() if hasattr(model, "cam_layer") else None
    if layer is None:
        return input_gradients(model, x, classes), f"{INPUT_GRADIENTS} (no convolution)"
    name = next((n for n, m in model.named_modules() if m is layer), "?")
    return grad_cam(model, layer, x, classes), f"{GRAD_CAM} ({name})"


def grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Grad-CAM of `layer`'s output for each image's class in `classes`, upsampled to the input: (B, H, W)."""
    kept = {}

    def keep(_module, _inputs, out):
        kept["a"] = out
        return out.clone()  # what follows (an in-place ReLU) changes the clone; `kept` stays the conv's output

    hook = layer.register_forward_hook(keep)
    was_training = model.training
    try:
        with torch.enable_grad():
            model.eval()
            logits = model(x.detach().float())
            score = logits.gather(1, classes.view(-1, 1).to(logits.device)).sum()
            (grad,) = torch.autograd.grad(score, kept["a"])
    finally:
        hook.remove()
        model.train(was_training)
    a = kept["a"].detach().float()  # (B, C, h, w)
    weights = grad.float().mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1): each channel's importance
    cam = F.relu((weights * a).sum(dim=1, keepdim=True))  # (B, 1, h, w)
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return _unit(cam)


def input_gradients(model: nn.Module, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """|d class score / d pixel|, the largest over channels: (B, H, W)."""
    was_training = model.training
    try:
        with torch.enable_grad():
            model.eval()
            x = x.detach().float().requires_grad_(True)
            logits = model(x)
            score = logits.gather(1, classes.view(-1, 1).to(logits.device)).sum()
            (grad,) = torch.autograd.grad(score, x)
    finally:
        model.train(was_training)
    return _unit(grad.abs().amax(dim=1))


def _unit(maps: torch.Tensor) -> torch.Tensor:
    """Each map scaled to 0..1 by its own maximum (an all-zero map stays zero)."""
    peak = maps.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)
    return (maps / peak).clamp(0, 1)

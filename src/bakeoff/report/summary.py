"""A Keras-style model summary: every layer in call order with its output shape and parameter count."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..models import create_model


@dataclass
class LayerRow:
    name: str  # dotted module path, e.g. "features.0"
    kind: str  # module class, e.g. "Conv2d"
    shape: tuple[int, ...]  # output shape with the batch dimension dropped; () for a layer the forward pass skips
    params: int  # the layer's own parameters; 0 when the same module was already listed (a reused layer)


@dataclass
class ModelSummary:
    model: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    layers: list[LayerRow]
    total: int
    trainable: int

    def shape_text(self, shape: tuple[int, ...]) -> str:
        return "(B, " + ", ".join(str(s) for s in shape) + ")"


def summarize(model_name: str, num_classes: int, in_chans: int, img_size: int, **options) -> ModelSummary:
    """Build the model without initializing its weights and trace one forward pass of a blank image.

    Forward hooks on the leaf modules record each call's output shape. A module's
    parameters are counted at its first call, so the rows add up to the total.
    """
    with torch.device("meta"):  # no weight initialization: simple-cnn's 29M parameters cost nothing here
        model = create_model(model_name, num_classes=num_classes, in_chans=in_chans, img_size=img_size, **options)
    # Uninitialized CPU memory, not a meta forward: the meta kernels' first call costs ~1 s of imports.
    model = model.to_empty(device="cpu").eval()
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            t.zero_()  # garbage memory can hold denormals, which make CPU kernels crawl
    layers: list[LayerRow] = []
    seen: set[int] = set()

    def hook(module: nn.Module, _inputs, output, name: str) -> None:
        out = output[0] if isinstance(output, (tuple, list)) else output
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()
        first = id(module) not in seen
        seen.add(id(module))
        params = sum(p.numel() for p in module.parameters(recurse=False)) if first else 0
        layers.append(LayerRow(name, type(module).__name__, shape, params))

    handles = [m.register_forward_hook(lambda mod, i, o, n=name: hook(mod, i, o, n))
               for name, m in model.named_modules() if name and not list(m.children())]
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_chans, img_size, img_size))
    finally:
        for h in handles:
            h.remove()
    for name, m in model.named_modules():  # layers classification never calls, e.g. an autoencoder's decoder
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if name and own and id(m) not in seen and not list(m.children()):
            layers.append(LayerRow(name, f"{type(m).__name__} (not used to classify)", (), own))
    total = sum(p.numel() for p in model.parameters())
    listed = sum(row.params for row in layers)
    if listed != total:  # parameters held by a container module itself
        layers.append(LayerRow("(other)", "parameters outside any layer", (), total - listed))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(model_name, (in_chans, img_size, img_size), layers, total, trainable)

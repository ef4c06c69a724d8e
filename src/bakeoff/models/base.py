"""What every bakeoff model shares: the timm-style classifier contract and a conv-stack builder.

A model is `forward_features` (the part worth keeping in transfer learning: conv
stack, residual stages, or an MLP's hidden layers) followed by `forward_head`
(pooling/flatten, any dense layers, and the final linear layer). The final
linear layer sits at the dotted path `classifier_name`, so `reset_classifier`
works unchanged for torchvision layouts too: ResNet's `fc`, VGG's `classifier.6`.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError


class ClassifierBase(nn.Module):
    """Base of every model: `forward(x) = forward_head(forward_features(x))`, returning logits.

    Subclasses call `super().__init__(num_classes, in_chans, img_size)`, build their
    layers, set `self.num_features` (width of the vector entering the final linear
    layer), and implement `forward_features` and `forward_head`.
    """

    classifier_name = "fc"  # dotted path of the final nn.Linear; torchvision: ResNet "fc", VGG "classifier.6"

    def __init__(self, num_classes: int, in_chans: int, img_size: int):
        super().__init__()
        if num_classes < 1 or in_chans < 1 or img_size < 1:
            raise ConfigError(
                f"{type(self).__name__} needs num_classes, in_chans, img_size >= 1; "
                f"got num_classes={num_classes}, in_chans={in_chans}, img_size={img_size}"
            )
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.img_size = img_size
        self.num_features = 0  # set by the subclass

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, img_size, img_size) -> features (a map (B, C, h, w) or a vector (B, D))."""
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Features -> logits (B, num_classes), or with `pre_logits` the (B, num_features) input of the last layer."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        x = self.forward_head(x)
        return x

    def get_classifier(self) -> nn.Module:
        """The final classification layer."""
        return self.get_submodule(self.classifier_name)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final layer by a fresh one for `num_classes` classes (0: identity, the head returns features)."""
        old = next(self.get_classifier().parameters(), None)
        if old is None:  # the head was reset to identity before
            old = next(self.parameters())
        new = self.new_classifier(num_classes).to(device=old.device, dtype=old.dtype) if num_classes > 0 \
            else nn.Identity()
        parent_name, _, child_name = self.classifier_name.rpartition(".")
        parent = self.get_submodule(parent_name) if parent_name else self
        setattr(parent, child_name, new)  # also works for a Sequential index, e.g. "classifier.6"
        self.num_classes = num_classes

    def input_side(self) -> int:
        """The side of the images the network computes on: img_size, unless the model resizes its input."""
        return self.img_size

    def new_classifier(self, num_classes: int) -> nn.Module:
        """A fresh final layer of this model's kind for `num_classes` classes (a family with its own overrides)."""
        return nn.Linear(self.num_features, num_classes)

    @classmethod
    def tunable(cls) -> dict[str, tuple]:
        """RunConfig fields `--tune` searches for this family besides lr and weight decay (runs/tuning.py), as
        {field: ("int" | "float", low, high, log) or ("categorical", [choices])}. None by default."""
        return {}

    # ---- anatomy, for transfer learning (timm's `group_matcher` in spirit): each family says, nothing is guessed

    def backbone_blocks(self) -> list[nn.Module]:
        """The backbone's blocks, input first: what `--finetune-blocks N` counts from the end and
        `--freeze backbone` freezes. Every parameter that `forward_features` uses lies in one of them."""
        raise ConfigError(f"{type(self).__name__} does not say which layers form its backbone")

    def auxiliary_modules(self) -> list[nn.Module]:
        """Modules that are neither backbone nor head (an autoencoder's decoder): never trained with the head."""
        return []

    def head_parameters(self) -> list[nn.Parameter]:
        """The parameters `forward_head` uses: all but the backbone blocks' and the auxiliary modules'."""
        skip = {id(p) for m in self.backbone_blocks() + self.auxiliary_modules() for p in m.parameters()}
        return [p for p in self.parameters() if id(p) not in skip]

    def cam_layer(self) -> nn.Module | None:
        """The convolution whose output Grad-CAM explains (analysis/cam.py), or None when there is none (mlp).

        The last convolution the forward pass runs whose map is still at least 1/8 of the largest one's side
        (and 2 px): a 1x1 map at the end of vgg16 on 32 px images would give every pixel the same weight.
        Found by one forward pass on a blank image, so decoder convolutions that classifying never runs are
        skipped; a family can override it.
        """
        ran: list[tuple[nn.Module, int]] = []
        hooks = [m.register_forward_hook(lambda mod, _, out: ran.append((mod, out.shape[-1])))
                 for m in self.modules() if isinstance(m, nn.Conv2d)]
        was_training = self.training
        try:
            param = next(self.parameters())
            with torch.no_grad():
                self.eval()(torch.zeros(1, self.in_chans, self.img_size, self.img_size, device=param.device,
                                        dtype=param.dtype))
        finally:
            self.train(was_training)
            for h in hooks:
                h.remove()
        if not ran:
            return None
        least = max(2, max(side for _, side in ran) // 8)
        wide = [m for m, side in ran if side >= least]
        return wide[-1] if wide else ran[-1][0]


def split_after_pools(layers: list[nn.Module]) -> list[nn.Module]:
    """A conv stack cut into blocks, each ending at a pool (or the Identity standing in for one).

    Layers after the last pool form a block of their own when they hold parameters (basic-cnn's last
    conv), else they join the last block (simple-cnn's Dropout).
    """
    blocks, current = [], []
    for layer in layers:
        current.append(layer)
        if isinstance(layer, (nn.MaxPool2d, nn.Identity)):
            blocks.append(nn.Sequential(*current))
            current = []
    if current:
        has_params = any(True for m in current for _ in m.parameters())
        if blocks and not has_params:
            blocks[-1] = nn.Sequential(*blocks[-1], *current)
        else:
            blocks.append(nn.Sequential(*current))
    return blocks


def conv_out_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Side of a conv/pool output, PyTorch's floor formula."""
    return (size + 2 * padding - kernel) // stride + 1


def make_layers(
    cfg: list[int | str],
    in_chans: int,
    img_size: int,
    padding: str = "same",
    batch_norm: bool = False,
    pool_before_relu: bool = False,
) -> tuple[list[nn.Module], int, int]:
    """Conv stack from a torchvision-VGG-style cfg: an int is Conv 3x3 (+BN) + ReLU, "M" is MaxPool 2.

    Returns (layers, out_channels, out_size). Layer order matches torchvision's
    `vgg.make_layers`, so `features.N` state_dict keys line up with its VGGs.

    `padding` is "same" (pad 1, Keras padding='same'), "valid" (pad 0, Keras'
    default) or "auto": "valid" when the whole stack keeps the map >= 1x1 on
    `img_size`, else "same" (small inputs such as 8x8). A pool that would take a
    1x1 map to 0x0 becomes nn.Identity, which keeps the indices stable.

    `pool_before_relu` swaps each ReLU with the pool right after it: max-pooling commutes with ReLU, so
    outputs and gradients are the same, but the ReLU then runs on a quarter of the values (basic-cnn's
    training step about 7% faster, cnn4's 3%, at batch 128 on 2 cores). Parameter keys do not move.
    """
    padding = resolve_padding(cfg, img_size, padding)
    pad = 1 if padding == "same" else 0
    layers: list[nn.Module] = []
    channels, size = in_chans, img_size
    for v in cfg:
        if v == "M":
            fits = size >= 2
            pool = nn.MaxPool2d(2, 2) if fits else nn.Identity()
            if pool_before_relu and fits and layers and isinstance(layers[-1], nn.ReLU):
                layers.insert(len(layers) - 1, pool)
            else:
                layers.append(pool)
            size = size // 2 if fits else size
            continue
        layers.append(nn.Conv2d(channels, v, 3, padding=pad, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        channels, size = v, conv_out_size(size, 3, 1, pad)
        if size < 1:
            raise ConfigError(f"img_size {img_size} is too small for conv stack {cfg} with padding '{padding}'")
    return layers, channels, size


def resolve_padding(cfg: list[int | str], img_size: int, padding: str) -> str:
    """Resolve "auto": "valid" if every conv and pool of `cfg` keeps a map >= 1x1 unpadded, else "same"."""
    if padding not in ("auto", "same", "valid"):
        raise ConfigError(f"unknown padding '{padding}'; choose from: auto, same, valid")
    if padding != "auto":
        return padding
    size = img_size
    for v in cfg:
        size = size // 2 if v == "M" else conv_out_size(size, 3)
        if size < 1:
            return "same"
    return "valid"

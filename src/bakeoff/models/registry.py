"""Model registry in the manner of timm: `@register_model` factories, `create_model`, `list_models`.

Every factory takes `num_classes`, `in_chans`, `img_size` (the input is square,
(B, in_chans, img_size, img_size)) plus its own keyword options, and returns a
plain `nn.Module` that returns logits and offers `forward_features`,
`forward_head` and `reset_classifier(num_classes)` so transfer learning works
the same for every model.
"""
from __future__ import annotations

import fnmatch
import re
from typing import Callable

import torch.nn as nn

from ..errors import unknown_choice

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_TRAITS: dict[str, frozenset[str]] = {}
# What a model can do beyond the common interface, known before it is built (options are checked against it):
# "any_size": it pools globally before its head, so it takes images of any size (--progressive-resize);
# "stem": it has `stem_conv()`, a first convolution that --whiten-stem can set from the data;
# "linear_head": its head is the final linear layer alone on pooled features, which --freeze probe fits.
TRAITS = ("any_size", "stem", "linear_head")


def register_model(name: str, traits: tuple[str, ...] = ()):
    """Decorator: make a factory available to `create_model(name, ...)`, with its `traits` (TRAITS)."""
    assert set(traits) <= set(TRAITS), f"unknown traits {traits}"

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        assert name not in _MODELS, f"model '{name}' registered twice"
        _MODELS[name] = fn
        _TRAITS[name] = frozenset(traits)
        return fn

    return wrap


def has_trait(name: str, trait: str) -> bool:
    """Whether the registered model `name` has `trait` (TRAITS)."""
    return trait in _TRAITS.get(name, ())


def models_with(trait: str) -> list[str]:
    return [n for n in list_models() if has_trait(n, trait)]


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, in natural order (resnet20 before resnet110)."""
    return sorted((n for n in _MODELS if fnmatch.fnmatch(n, pattern)), key=_natural_key)


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def is_model(name: str) -> bool:
    return name in _MODELS


def model_doc(name: str) -> str:
    """First line of the factory's docstring: what the model is and which seed it reproduces."""
    doc = (_MODELS[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def create_model(name: str, num_classes: int, in_chans: int, img_size: int, **kwargs) -> nn.Module:
    """Build a registered model for inputs of shape (B, in_chans, img_size, img_size)."""
    if name not in _MODELS:
        raise unknown_choice("model", name, _MODELS)
    return _MODELS[name](num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)

"""Options checked against the zoo: whether a run's model exists and takes what it is given, and how a grid
point's options apply to each model of a line-up. config/ holds types and ranges only; what depends on the
models themselves (their traits, which have ImageNet weights) is said here, next to them.
"""
from __future__ import annotations

import os

import torch

from ..config import GridConfig, RunConfig
from ..config.axes import AUTOENCODER_OPTIONS, TRAIT_OPTIONS, TRANSFER_OPTIONS
from ..errors import ConfigError, unknown_choice
from .pretrained import IMAGENET_WEIGHTS
from .registry import create_model, has_trait, is_model, list_models, models_with

def grid_runs(grid: GridConfig) -> list[RunConfig]:
    """Every run of the grid, each with the options its model takes, checked against the zoo."""
    return grid.runs(lambda model, options: options_for(grid, model, options), check_run)


def check_run(cfg: RunConfig) -> None:
    """The model exists and takes the options it is given (one line naming what is valid otherwise)."""
    if not is_model(cfg.model):
        raise unknown_choice("model", cfg.model, list_models())
    if cfg.progressive_resize is not None and not has_trait(cfg.model, "any_size"):
        raise ConfigError(f"--progressive-resize needs a model that pools globally, so it takes any image size "
                          f"({', '.join(models_with('any_size'))}); {cfg.model} does not")
    if cfg.whiten_stem and not has_trait(cfg.model, "stem"):
        raise ConfigError(f"--whiten-stem works on {', '.join(models_with('stem'))}, not {cfg.model}")
    if cfg.freeze == "probe" and not has_trait(cfg.model, "linear_head"):
        raise ConfigError(f"--freeze probe fits a final linear layer on pooled features; {cfg.model}'s head has more "
                          f"layers than that. It works on: {', '.join(models_with('linear_head'))}")
    if cfg.pretrained == "imagenet" and cfg.model not in IMAGENET_WEIGHTS:
        raise ConfigError(f"no ImageNet weights for '{cfg.model}'; they exist for: {', '.join(IMAGENET_WEIGHTS)} "
                          f"(or give --pretrained a bakeoff best.pt)")


def options_for(grid: GridConfig, model: str, options: dict) -> dict:
    """The options of one grid point as they apply to `model`.

    `--pretrained imagenet` over a line-up that mixes models with and without ImageNet weights starts
    the ones that have them from those weights (with --freeze/--finetune-blocks); the others train from
    scratch, whole. A line-up in which no model has them is refused, by check_run, in one line. Photo
    folders are then loaded at PRETRAINED_FOLDER_IMG_SIZE unless --img-size is given, for every run, so
    that all see the same images.
    """
    options = dict(options)
    if model != "autoencoder":
        for key in AUTOENCODER_OPTIONS:
            options.pop(key, None)
    for key, trait in TRAIT_OPTIONS.items():  # a line-up in which no model takes one is refused by check_run
        if not has_trait(model, trait) and any(has_trait(m, trait) for m in grid.models):
            options.pop(key, None)
    if "pretrained" in grid.axes and options.get("pretrained", "none") == "none":
        for key in TRANSFER_OPTIONS:  # how to adapt pretrained weights means nothing for the scratch points
            options.pop(key, None)
    imagenet = "imagenet" in [grid.base.get("pretrained"), *grid.axes.get("pretrained", [])]
    if not imagenet or not any(m in IMAGENET_WEIGHTS for m in grid.models):
        return options
    if str(options.get("dataset", "")).startswith("folder:") and options.get("img_size") is None \
            and "img_size" not in grid.axes:
        # the weights' own input size, the line-up's largest. clothing-photos, efficientnet-lite0, --freeze probe,
        # seed 0: validation 86.64% at 160 px (the earlier default), 88.60% at 224 (whole command 82 s and 99 s)
        options["img_size"] = max(IMAGENET_WEIGHTS[m].input_size for m in grid.models if m in IMAGENET_WEIGHTS)
    if model not in IMAGENET_WEIGHTS and options.get("pretrained") == "imagenet":
        for key in TRANSFER_OPTIONS:
            options.pop(key, None)
    return options


TRAINING_BYTES_PER_PARAM = 16  # fp32 weights, their gradients and Adam's two moments; activations come on top
MEMORY_SHARE = 0.5  # of this machine's memory that one run's parameters may take before it is refused


def check_memory(runs: list[RunConfig], in_chans: int, img_size: int, num_classes: int,
                 total_bytes: int | None = None) -> None:
    """Refuse, in one line and before any training, a model whose parameters alone would not fit: a dense layer
    that grows with the image (simple-cnn: 286 M weights at 48 px, 155 billion at 224 px) at the size the
    photos load at. Models are counted on PyTorch's meta device, so counting allocates nothing."""
    total = total_bytes or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for name in dict.fromkeys(cfg.model for cfg in runs):
        with torch.device("meta"):
            model = create_model(name, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
        params = sum(p.numel() for p in model.parameters())
        need = params * TRAINING_BYTES_PER_PARAM
        if need > MEMORY_SHARE * total:
            raise ConfigError(
                f"{name} at {img_size} px has {params:,} parameters: about {need / 2**30:,.1f} GB to train, more than "
                f"half of this machine's {total / 2**30:.0f} GB; give a smaller --img-size (`bakeoff models --img-size "
                f"N` shows each model's size) or a model that pools globally ({', '.join(models_with('any_size'))})")

"""Recipes: named presets of training options, chosen per dataset, for `--recipe NAME`.

`fast` reaches a target accuracy in the least wall-clock time on a few CPU cores (bench/time_to_accuracy.py
measures it). What it takes from the CIFAR-10 speed records (airbench): a small network that pools early
(fast-net), large batches, Nesterov SGD with a one-cycle schedule, label smoothing, flip-and-translate
augmentation, test-time flip augmentation and (Fashion-MNIST) a whitened first layer. Every value here
was measured, not guessed: see docs/speed.md.

A recipe only sets defaults: a grid YAML and flags given on the command line override any of them.
"""
from __future__ import annotations

from ..errors import unknown_choice

# Options shared by every dataset, then per-dataset ones; keys are grid options (models) and RunConfig fields.
# Chosen by validation accuracy on Fashion-MNIST (the test split only scored afterwards): at a budget of about
# four epochs, no augmentation beat flip-and-translate (val 93.13% vs 92.72%) and smoothing 0.1 beat 0.2.
FAST_COMMON = {
    "models": ["fast-net-s"],
    "optimizer": "sgd", "momentum": 0.9, "nesterov": True, "schedule": "onecycle",
    "batch_size": 512, "lr": 0.4, "weight_decay": 5e-4, "label_smoothing": 0.1,
    "augment": False, "tta": True,
}
FAST_BY_DATASET = {
    # a whitened, frozen stem: validation 93.22/93.40% over seeds 0-1 against 93.13/92.90% without (docs/speed.md)
    "fashion-mnist": {"epochs": 4, "whiten_stem": True},
    # half fast-net-s's widths: twice the images/s. Two epochs, validation 99.13/99.23/98.98% over seeds 0-2
    # (fast-net-s: 99.17/99.58% on seeds 0-1 in twice the time; 12-24-48-96 and 8-16-48-96 were slower or worse)
    "mnist": {"models": ["fast-net-xs"], "epochs": 2},
    # colour 32x32: the wider network with flip-and-translate, as airbench does
    "cifar10": {"models": ["fast-net"], "epochs": 10, "augment": True, "lr": 0.2, "label_smoothing": 0.2},
    "digits": {"epochs": 20, "batch_size": 128, "lr": 0.2},
}
FAST_OTHER = {"models": ["fast-net"], "epochs": 10, "augment": True}  # folders and arrays: the CIFAR-like middle

RECIPES = ("none", "fast")


def recipe_options(name: str, dataset: str) -> dict:
    """The grid options a recipe sets for a dataset ({} for 'none')."""
    if name == "none":
        return {}
    if name == "fast":
        return {**FAST_COMMON, **FAST_BY_DATASET.get(dataset, FAST_OTHER), "recipe": "fast"}
    raise unknown_choice("recipe", name, RECIPES)

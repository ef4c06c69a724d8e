"""Deterministic stratified splits: the validation set is carved from training data only."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError


def stratified_indices(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into (kept, taken) with `fraction` of every class in `taken`.

    Deterministic for a given seed; every class with at least two samples keeps
    at least one sample on each side.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"split fraction must be in [0, 1), got {fraction}")
    y = labels.numpy()
    rng = np.random.default_rng(seed)
    kept, taken = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n_take = int(round(fraction * len(idx)))
        if fraction > 0 and len(idx) >= 2:
            n_take = min(max(n_take, 1), len(idx) - 1)
        taken.append(idx[:n_take])
        kept.append(idx[n_take:])
    kept_idx = np.sort(np.concatenate(kept))
    taken_idx = np.sort(np.concatenate(taken))
    return torch.from_numpy(kept_idx), torch.from_numpy(taken_idx)


def train_val_split(labels: torch.Tensor, val_fraction: float, seed: int, train_subset: int | None = None,
                    folds: int | None = None, fold: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of (train, val) inside the official training split.

    With `folds` K, the (subset of the) training data is cut into K stratified folds: fold `fold` validates,
    the other K-1 train, and `val_fraction` is not used.

    Without a subset, `val_fraction` of every class is carved from the training data. With
    `train_subset` N, the model trains on a stratified N images, as seed 004 trained on 20,000,
    and the validation set (val_fraction x N images) is drawn from the training images left
    over, so the subset is not shrunk by it; when too few are left over it is carved from the subset.
    """
    n = labels.numel()
    if folds:
        pool = torch.arange(n) if train_subset is None or train_subset == n else \
            stratified_indices(labels, _subset_fraction(train_subset, n), seed)[1]
        train_rel, val_rel = kfold_indices(labels[pool], folds, fold, seed + 1)
        return pool[train_rel], pool[val_rel]
    if train_subset is None or train_subset == n:
        train_rel, val_rel = stratified_indices(labels, val_fraction, seed + 1)
        return train_rel, val_rel
    if not 0 < train_subset <= n:
        raise ConfigError(f"--train-subset must be between 1 and {n} (the training images), got {train_subset}")
    rest, subset = stratified_indices(labels, train_subset / n, seed)
    n_val = int(round(val_fraction * train_subset))
    if n_val <= len(rest):
        if n_val == 0:
            return subset, rest[:0]
        _, val_rel = stratified_indices(labels[rest], n_val / len(rest), seed + 1)
        return subset, rest[val_rel]
    train_rel, val_rel = stratified_indices(labels[subset], val_fraction, seed + 1)
    return subset[train_rel], subset[val_rel]


def kfold_indices(labels: torch.Tensor, folds: int, fold: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) indices of stratified K-fold: each class dealt round-robin into K folds after a seeded shuffle,
    so every fold holds each class in proportion and every image validates exactly once over the K folds."""
    y = labels.numpy()
    smallest = int(np.bincount(y)[np.unique(y)].min()) if len(y) else 0
    if smallest < folds:
        raise ConfigError(f"--folds {folds}: every class needs at least {folds} training images; the smallest "
                          f"has {smallest}")
    rng = np.random.default_rng(seed)
    which = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        which[idx] = (np.arange(len(idx)) + rng.integers(folds)) % folds  # a random start: fold sizes even out
    return torch.from_numpy(np.flatnonzero(which != fold)), torch.from_numpy(np.flatnonzero(which == fold))


def _subset_fraction(train_subset: int, n: int) -> float:
    if not 0 < train_subset <= n:
        raise ConfigError(f"--train-subset must be between 1 and {n} (the training images), got {train_subset}")
    return train_subset / n

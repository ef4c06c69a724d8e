"""scikit-learn's bundled 8x8 digits: 1,797 images, always available, trains in seconds."""
from __future__ import annotations

import numpy as np
import torch

from .dataset import Dataset

TEST_FRACTION = 0.2  # the set has no official split; 20% = 360 test images, ~36 per class
SPLIT_SEED = 0  # fixed, apart from any run seed: every run is tested on the same 360 images


def load_digits_dataset() -> Dataset:
    """The digits as uint8 (N, 1, 8, 8), values 0..16 scaled to 0..255, with a fixed stratified test split."""
    # lazy: importing scikit-learn takes ~1 s
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.rint(d.images * (255 / 16)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    x = torch.from_numpy(np.ascontiguousarray(x))
    y = torch.from_numpy(d.target.astype(np.int64))
    # scikit-learn's own stratified split (1437 / 360), sorted so images keep their original order
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=TEST_FRACTION,
                                           stratify=d.target, random_state=SPLIT_SEED)
    train_idx, test_idx = torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))
    return Dataset(name="digits", classes=[str(k) for k in range(10)],
                   x_train=x[train_idx], y_train=y[train_idx], x_test=x[test_idx], y_test=y[test_idx],
                   source="scikit-learn (bundled)",
                   meta={"test_split": f"stratified {TEST_FRACTION:.0%}, seed {SPLIT_SEED}"})

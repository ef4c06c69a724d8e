"""scikit-learn's bundled 8x8 digits: 1,797 images, always available, trains in seconds."""
from __future__ import annotations

import numpy as np
import torch

from ..files import read_arrays, write_arrays
from .dataset import Dataset
from .locate import cache_dir

TEST_FRACTION = 0.2  # the set has no official split; 20% = 360 test images, ~36 per class
SPLIT_SEED = 0  # fixed, apart from any run seed: every run is tested on the same 360 images


def load_digits_dataset() -> Dataset:
    """The digits as uint8 (N, 1, 8, 8), values 0..16 scaled to 0..255, with a fixed stratified test split."""
    arrays = _cached() or _from_scikit_learn()
    x = torch.from_numpy(np.ascontiguousarray(arrays["x"]))
    y = torch.from_numpy(arrays["y"].astype(np.int64))
    train_idx, test_idx = torch.from_numpy(arrays["train_idx"]), torch.from_numpy(arrays["test_idx"])
    return Dataset(name="digits", classes=[str(k) for k in range(10)],
                   x_train=x[train_idx], y_train=y[train_idx], x_test=x[test_idx], y_test=y[test_idx],
                   source="scikit-learn (bundled)",
                   meta={"test_split": f"stratified {TEST_FRACTION:.0%}, seed {SPLIT_SEED}"})


def _from_scikit_learn() -> dict[str, np.ndarray]:
    """The images, labels and split from scikit-learn; kept in the cache, since importing scikit-learn (and
    the SciPy it loads) takes 1-3 s, most of a rerun of a finished digits comparison."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.rint(d.images * (255 / 16)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    y = d.target.astype(np.int64)
    # scikit-learn's own stratified split (1437 / 360), sorted so images keep their original order
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=TEST_FRACTION,
                                           stratify=d.target, random_state=SPLIT_SEED)
    arrays = {"x": x, "y": y, "train_idx": np.sort(train_idx).astype(np.int64),
              "test_idx": np.sort(test_idx).astype(np.int64)}
    try:
        write_arrays(_cache_file(), arrays)
    except OSError:  # a read-only cache: load from scikit-learn every time
        pass
    return arrays


def _cache_file():
    """One file per scikit-learn version and split: another version's split is never reused."""
    from importlib.metadata import version

    return cache_dir("digits") / f"digits-sklearn{version('scikit-learn')}-test{TEST_FRACTION}-seed{SPLIT_SEED}.npz"


def _cached() -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when missing or not what `_from_scikit_learn` writes (then it is rewritten)."""
    try:
        a = read_arrays(_cache_file(), ("x", "y", "train_idx", "test_idx"))
    except (OSError, KeyError, ValueError):
        return None
    n = len(a["y"])
    ok = (a["x"].dtype == np.uint8 and a["x"].shape == (n, 1, 8, 8) and a["y"].dtype == np.int64 and n > 0
          and a["y"].min() >= 0 and a["y"].max() <= 9
          and all(a[k].dtype == np.int64 and a[k].ndim == 1 for k in ("train_idx", "test_idx"))
          and np.array_equal(np.sort(np.concatenate([a["train_idx"], a["test_idx"]])), np.arange(n)))
    return a if ok else None

"""Dataset names -> loaders: the one entry point the rest of bakeoff calls, and the one table of built-in datasets."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ConfigError, DatasetError, unknown_choice
from . import cifar, idx
from .arrays import load_arrays
from .dataset import Dataset
from .digits import load_digits_dataset
from .download import fetch
from .folder import load_folder
from .locate import cache_dir, how_to_supply, locate


@dataclass
class BuiltIn:
    """A dataset known by name: its shape (so `bakeoff models` needs no files) and where its files come from."""

    in_chans: int
    img_size: int  # side in pixels, as published
    num_classes: int
    files: str  # 'bundled' (with scikit-learn), 'idx' (the MNIST-format .gz files) or 'cifar' (the python batches)
    # (background, object_fill) as data/domain.photo_domain measures it on the real training images; serving
    # falls back on it for checkpoints saved before the runner recorded it.
    domain: tuple[str, float | None]
    aliases: tuple[str, ...] = ()  # other spellings accepted for the name
    folders: tuple[str, ...] = ()  # sub-folders of a data dir looked in after DIR/<name>/
    mirrors: list[str] = field(default_factory=list)  # base URLs tried in order; the official file name is appended


DATASETS = {
    "digits": BuiltIn(1, 8, 10, "bundled", ("dark", 1.0)),
    "fashion-mnist": BuiltIn(1, 28, 10, "idx", ("dark", 1.0), aliases=("fashion_mnist", "fashionmnist"),
                             mirrors=["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]),
    "mnist": BuiltIn(1, 28, 10, "idx", ("dark", 0.714),  # 20 px digits on 28 px
                     mirrors=["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]),
    "cifar10": BuiltIn(3, 32, 10, "cifar", ("none", None), aliases=("cifar-10", "cifar_10"), folders=("cifar-10",),
                       mirrors=["https://www.cs.toronto.edu/~kriz/"]),
}
DATASET_NAMES = list(DATASETS)
PATH_FORMS = ["arrays:PATH.npz", "folder:PATH"]
RESIZE_CHUNK = 4096  # images per interpolate call: bounds the float copy (CIFAR at 64 px: ~200 MB)


def builtin_name(name: str) -> str | None:
    """The built-in dataset that `name` spells (any case, or an alias), or None."""
    key = name.lower()
    for canonical, info in DATASETS.items():
        if key == canonical or key in info.aliases:
            return canonical
    return None


def load_dataset(name: str, data_dir: str | Path | None = None, img_size: int | None = None,
                 download: bool = True, quiet: bool = False) -> Dataset:
    """Load a dataset by name, or `arrays:PATH.npz` / `folder:PATH`.

    Downloadable ones (DATASETS) are looked for in `data_dir`, then $BAKEOFF_DATA,
    then the cache (`$XDG_CACHE_HOME/bakeoff`), and downloaded into the cache when
    `download`. `img_size` resizes every image to img_size x img_size (bilinear,
    antialiased); for folder:PATH it is the size images are cropped and resized to.
    """
    if img_size is not None and (not isinstance(img_size, int) or img_size < 1):
        raise ConfigError(f"img_size must be a positive integer, got {img_size!r}")
    if name.startswith("folder:"):
        return load_folder(name[len("folder:"):], img_size=img_size, name=name)
    if name.startswith("arrays:"):
        ds = load_arrays(name[len("arrays:"):], name=name)
    else:
        key = builtin_name(name)
        if key is None:
            raise unknown_choice("dataset", name, DATASET_NAMES + PATH_FORMS)
        bundled = DATASETS[key].files == "bundled"
        ds = load_digits_dataset() if bundled else _load_downloadable(key, data_dir, download, quiet)
    if img_size is not None and img_size != ds.img_size:
        ds.meta["resized_from"] = ds.img_size
        ds.x_train, ds.x_test = resize(ds.x_train, img_size), resize(ds.x_test, img_size)
    return ds


def describe_datasets(data_dir: str | Path | None = None) -> list[dict]:
    """For `bakeoff datasets`: each built-in name, whether its files are here, and where (or how to get them)."""
    rows = []
    for name, info in DATASETS.items():
        if info.files == "bundled":
            rows.append({"name": name, "found": True, "where": "bundled with scikit-learn"})
            continue
        found, _ = _locate(name, data_dir)
        where = (str(found) if found else
                 f"not found; downloaded into {cache_dir(name)} on first use, or {_how_to_supply(name)}")
        rows.append({"name": name, "found": found is not None, "where": where})
    return rows


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), bilinear and antialiased."""
    out = torch.empty((x.shape[0], x.shape[1], size, size), dtype=torch.uint8)
    for i in range(0, x.shape[0], RESIZE_CHUNK):
        chunk = x[i:i + RESIZE_CHUNK].float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i:i + RESIZE_CHUNK] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _load_downloadable(name: str, data_dir, allow_download: bool, quiet: bool) -> Dataset:
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise DatasetError(f"--data-dir {data_dir}: no such directory")
    found, looked = _locate(name, data_dir)
    if found is None:
        looked_in = ", ".join(dict.fromkeys(str(p) for p in looked))
        if not allow_download:
            raise DatasetError(f"{name} not found (looked in {looked_in}) and downloading is off; "
                               f"{_how_to_supply(name)}")
        try:
            found = _download(name, quiet)
        except DatasetError as e:
            raise DatasetError(f"{name} not found (looked in {looked_in}) and the download failed ({e}); "
                               f"{_how_to_supply(name)}") from None
    return cifar.load_cifar10(found) if DATASETS[name].files == "cifar" else idx.load_idx(found, name)


# Each kind of downloadable files: how it is found in a folder, named to the user and fetched.

def _locate(name: str, data_dir) -> tuple[Path | None, list[Path]]:
    find = cifar.find_cifar if DATASETS[name].files == "cifar" else idx.find_idx
    return locate([name, *DATASETS[name].folders], find, data_dir)


def _how_to_supply(name: str) -> str:
    if DATASETS[name].files == "cifar":
        return how_to_supply(name, f"{cifar.BATCHES_DIR}/, {cifar.TAR_NAME} or {cifar.NPZ_NAME}")
    return how_to_supply(name, ", ".join(idx.GZ_NAMES))


def _download(name: str, quiet: bool) -> Path:
    """Fetch the official files into the cache; return what the loader should read."""
    dest, mirrors = cache_dir(name), DATASETS[name].mirrors
    if DATASETS[name].files == "cifar":
        return fetch([m + cifar.TAR_NAME for m in mirrors], dest / cifar.TAR_NAME, cifar.TAR_MD5, quiet)
    for fname in idx.GZ_NAMES:
        if not (dest / fname).is_file():  # a file from an earlier, partial attempt was verified then
            fetch([m + fname for m in mirrors], dest / fname, idx.OFFICIAL_MD5[name][fname], quiet)
    return dest

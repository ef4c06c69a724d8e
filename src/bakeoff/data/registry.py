"""Dataset names -> loaders: the one entry point the rest of bakeoff calls."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ConfigError, DatasetError, unknown_choice
from . import cifar, idx
from . import download as fetching  # `download` is also load_dataset's flag
from .arrays import load_arrays
from .dataset import Dataset
from .digits import load_digits_dataset
from .folder import load_folder
from .locate import cache_dir, how_to_supply, locate

DATASET_NAMES = ["digits", "fashion-mnist", "mnist", "cifar10"]
PATH_FORMS = ["arrays:PATH.npz", "folder:PATH"]
ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10",
           "cifar_10": "cifar10"}
RESIZE_CHUNK = 4096  # images per interpolate call: bounds the float copy (CIFAR at 64 px: ~200 MB)


def load_dataset(name: str, data_dir: str | Path | None = None, img_size: int | None = None,
                 download: bool = True, quiet: bool = False) -> Dataset:
    """Load a dataset by name, or `arrays:PATH.npz` / `folder:PATH`.

    fashion-mnist, mnist and cifar10 are looked for in `data_dir`, then $BAKEOFF_DATA,
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
        key = ALIASES.get(name.lower(), name.lower())
        if key == "digits":
            ds = load_digits_dataset()
        elif key in ("fashion-mnist", "mnist", "cifar10"):
            ds = _load_downloadable(key, data_dir, download, quiet)
        else:
            raise unknown_choice("dataset", name, DATASET_NAMES + PATH_FORMS)
    if img_size is not None and img_size != ds.img_size:
        ds.meta["resized_from"] = ds.img_size
        ds.x_train, ds.x_test = resize(ds.x_train, img_size), resize(ds.x_test, img_size)
    return ds


def describe_datasets(data_dir: str | Path | None = None) -> list[dict]:
    """For `bakeoff datasets`: each built-in name, whether its files are here, and where (or how to get them)."""
    rows = [{"name": "digits", "found": True, "where": "bundled with scikit-learn"}]
    for name in DATASET_NAMES[1:]:
        found, _ = locate(name, data_dir)
        where = (str(found) if found else
                 f"not found; downloaded into {cache_dir(name)} on first use, or {how_to_supply(name)}")
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
    found, looked = locate(name, data_dir)
    if found is None:
        looked_in = ", ".join(dict.fromkeys(str(p) for p in looked))
        if not allow_download:
            raise DatasetError(f"{name} not found (looked in {looked_in}) and downloading is off; "
                               f"{how_to_supply(name)}")
        try:
            found = _download(name, quiet)
        except DatasetError as e:
            raise DatasetError(f"{name} not found (looked in {looked_in}) and the download failed ({e}); "
                               f"{how_to_supply(name)}") from None
    return cifar.load_cifar10(found) if name == "cifar10" else idx.load_idx(found, name)


def _download(name: str, quiet: bool) -> Path:
    """Fetch the official files into the cache; return what the loader should read."""
    dest = cache_dir(name)
    if name == "cifar10":
        urls = [m + cifar.TAR_NAME for m in fetching.MIRRORS[name]]
        return fetching.fetch(urls, dest / cifar.TAR_NAME, cifar.TAR_MD5, quiet)
    for fname in idx.GZ_NAMES:
        if not (dest / fname).is_file():  # a file from an earlier, partial attempt was verified then
            urls = [m + fname for m in fetching.MIRRORS[name]]
            fetching.fetch(urls, dest / fname, idx.OFFICIAL_MD5[name][fname], quiet)
    return dest

"""Dataset loaders: every format round-trips, lookup order, downloads, and each bad input fails in one line.

One file over ~350 lines on purpose: a short section per source format, all sharing the helpers below.
A bad input's message is checked for what it must name (the file, the value at fault, what is valid).
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import pickle
import threading
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bakeoff.data import DATASET_NAMES, DATASETS, describe_datasets, load_dataset, stratified_indices
from bakeoff.data import cifar, download, folder, idx
from bakeoff.data.domain import photo_domain
from bakeoff.data.registry import builtin_name
from bakeoff.errors import ConfigError, DatasetError
from data_fixtures import (CIFAR_CLASSES, accept_md5s, idx_bytes, tiny_images, write_cifar_batches,
                           write_cifar_tar_gz, write_idx_gz, write_image_folder, write_npz)

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Overrides conftest's: a cache under tmp_path (tests look inside it), and no mirror reaches the network."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("BAKEOFF_DATA", raising=False)
    for info in DATASETS.values():
        monkeypatch.setattr(info, "mirrors", ["http://127.0.0.1:9/"])  # port 9 (discard): refused at once


def idx_fixture(dir, n_train=30, n_test=10, size=28, gzip=True):
    """Write a tiny IDX dataset; return (arrays, md5s)."""
    x_tr, y_tr = tiny_images(n_train, size, seed=1)
    x_te, y_te = tiny_images(n_test, size, seed=2)
    md5s = write_idx_gz(dir, x_tr, y_tr, x_te, y_te, gzip=gzip)
    return (x_tr, y_tr, x_te, y_te), md5s


def cifar_arrays(n_train=20, n_test=10):
    x_tr, y_tr = tiny_images(n_train, 32, channels=3, seed=3)
    x_te, y_te = tiny_images(n_test, 32, channels=3, seed=4)
    return x_tr, y_tr, x_te, y_te


def assert_matches(ds, x_tr, y_tr, x_te, y_te):
    """`ds` holds exactly these arrays; x given as (N, H, W) or HWC (N, H, W, C)."""
    def nchw(x):
        return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    assert ds.x_train.dtype == torch.uint8 and ds.y_train.dtype == torch.int64
    assert ds.x_test.dtype == torch.uint8 and ds.y_test.dtype == torch.int64
    np.testing.assert_array_equal(ds.x_train.numpy(), nchw(x_tr))
    np.testing.assert_array_equal(ds.x_test.numpy(), nchw(x_te))
    np.testing.assert_array_equal(ds.y_train.numpy(), y_tr)
    np.testing.assert_array_equal(ds.y_test.numpy(), y_te)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------- digits

def test_digits_shape_values_and_fixed_split():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert ds.classes == [str(k) for k in range(10)]
    assert ds.x_train.shape[1:] == (1, 8, 8) and ds.x_train.dtype == torch.uint8
    n = len(ds.y_train) + len(ds.y_test)
    assert n == 1797 and len(ds.y_test) == 360  # scikit-learn's stratified 20%
    assert int(ds.x_train.max()) == 255  # 16 -> 255
    # every image is one of sklearn's, scaled by 255/16 and rounded
    ref = np.rint(load_digits().images * 255 / 16).astype(np.uint8)
    ref_set = {r.tobytes() for r in ref}
    assert all(x.numpy().tobytes() in ref_set for x in ds.x_test[:20, 0])
    # fixed split: identical on every call, apart from any seed
    again = load_dataset("digits")
    assert torch.equal(ds.x_test, again.x_test) and torch.equal(ds.y_test, again.y_test)
    assert torch.bincount(ds.y_test).tolist() == [36, 36, 35, 37, 36, 37, 36, 36, 35, 36]  # stratified 20%


def test_img_size_resizes_builtin_datasets():
    ds = load_dataset("digits", img_size=16)
    assert ds.x_train.shape[1:] == (1, 16, 16) and ds.x_train.dtype == torch.uint8
    assert ds.meta["resized_from"] == 8
    with pytest.raises(ConfigError):
        load_dataset("digits", img_size=0)


def test_unknown_name_lists_choices_and_path_forms():
    with pytest.raises(ConfigError) as e:
        load_dataset("fashoin-mnist")
    msg = one_line(e)
    for choice in [*DATASET_NAMES, "arrays:PATH.npz", "folder:PATH"]:
        assert choice in msg


def test_names_are_forgiven_their_case_and_spelling():
    assert [builtin_name(n) for n in ("MNIST", "Fashion_MNIST", "fashionmnist", "cifar-10", "CIFAR_10", "mnsit")] == \
        ["mnist", "fashion-mnist", "fashion-mnist", "cifar10", "cifar10", None]
    assert load_dataset("DIGITS").name == "digits"


def test_the_dataset_table_agrees_with_the_loaders():
    """Shapes and domains in the table are what the loaders give and data/domain.py measures."""
    digits = load_dataset("digits")
    info = DATASETS["digits"]
    assert (info.in_chans, info.img_size, info.num_classes) == (digits.in_chans, digits.img_size, digits.num_classes)
    assert photo_domain(digits.x_train) == dict(zip(("background", "object_fill"), info.domain))
    for name in ("fashion-mnist", "mnist"):
        assert (DATASETS[name].in_chans, DATASETS[name].img_size, DATASETS[name].num_classes) == \
            (1, 28, len(idx.CLASSES[name]))
        assert set(idx.OFFICIAL_MD5[name]) == set(idx.GZ_NAMES)  # every file a download fetches is checked
    assert DATASETS["cifar10"].in_chans * DATASETS["cifar10"].img_size ** 2 == cifar.ROW
    assert DATASETS["cifar10"].num_classes == len(cifar.CLASSES)
    assert [r["name"] for r in describe_datasets()] == list(DATASETS) == DATASET_NAMES


# ---------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_idx_round_trip(tmp_path, monkeypatch, name, gz):
    arrays, md5s = idx_fixture(tmp_path / name, gzip=gz)
    accept_md5s(monkeypatch, name, md5s)
    ds = load_dataset(name, data_dir=tmp_path, download=False)
    assert_matches(ds, *arrays)
    assert ds.x_train.shape == (30, 1, 28, 28)
    assert ds.classes == idx.CLASSES[name]
    assert ds.classes[0] == ("T-shirt/top" if name == "fashion-mnist" else "0")
    assert ds.source == str(tmp_path / name)


def test_idx_official_name_with_wrong_md5_is_refused(tmp_path):
    _, md5s = idx_fixture(tmp_path / "mnist")
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    msg = one_line(e)
    name = "train-images-idx3-ubyte.gz"
    assert name in msg and idx.OFFICIAL_MD5["mnist"][name] in msg and md5s[name] in msg


def _idx_error(path: Path, magic=idx.IMAGES_MAGIC) -> str:
    with pytest.raises(DatasetError) as e:
        idx.read_idx(path, magic)
    msg = one_line(e)
    assert path.name in msg
    return msg


def test_idx_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8) + 7))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    assert "39200" in _idx_error(path)  # the payload the header promised: 50 x 28 x 28 bytes


def test_idx_corrupt_gzip(tmp_path):
    rng = np.random.default_rng(0)
    data = bytearray(gzip.compress(idx_bytes(rng.integers(0, 255, (50, 28, 28), dtype=np.uint8))))
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # zero a stretch of deflate data
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bytes(data))
    _idx_error(path)


def test_idx_crc_mismatch_is_corrupt(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(np.zeros((5, 4, 4), np.uint8))))
    data[-8] ^= 0xFF  # the CRC32 in the trailer: every byte of the payload reads, yet the file is refused
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(data))
    _idx_error(path)


def test_idx_not_gzip_despite_name(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(idx_bytes(np.zeros((2, 4, 4), np.uint8)))
    assert "00000803" in _idx_error(path)  # the bytes it starts with instead of gzip's 1f8b


@pytest.mark.parametrize("gz", [True, False])
def test_idx_wrong_magic(tmp_path, gz):
    labels = idx_bytes(np.zeros(10, np.uint8))  # a label file where images are expected
    path = tmp_path / ("t10k-images-idx3-ubyte.gz" if gz else "t10k-images-idx3-ubyte")
    path.write_bytes(gzip.compress(labels) if gz else labels)
    msg = _idx_error(path)
    assert "2049" in msg and "2051" in msg  # found, and what an image file starts with


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("delta", [-1, +1])
def test_idx_header_size_mismatch(tmp_path, gz, delta):
    good = idx_bytes(np.zeros((5, 6, 6), np.uint8))
    bad = good[:4] + (5 + delta).to_bytes(4, "big") + good[8:]  # header says 4 or 6 images, payload holds 5
    path = tmp_path / ("imgs.gz" if gz else "imgs")
    path.write_bytes(gzip.compress(bad) if gz else bad)
    n = 5 + delta
    assert f"{n}x6x6 = {n * 36} bytes" in _idx_error(path)  # the header's claim; the payload holds 180


def test_idx_huge_header_is_refused_before_allocating(tmp_path):
    bad = (2051).to_bytes(4, "big") + (0xFFFFFFFF).to_bytes(4, "big") * 3 + bytes(100)
    path = tmp_path / "huge.gz"
    path.write_bytes(gzip.compress(bad))
    assert "4294967295x4294967295x4294967295" in _idx_error(path)


def test_idx_count_mismatch_between_images_and_labels(tmp_path):
    x, y = tiny_images(10, 28)
    write_idx_gz(tmp_path, x, y[:9], x, y, gzip=False)  # raw names: no md5 to check
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    msg = one_line(e)
    assert "10 images" in msg and "9 labels" in msg and "train-images-idx3-ubyte" in msg


def test_idx_label_out_of_range(tmp_path):
    x, y = tiny_images(10, 28)
    write_idx_gz(tmp_path, x, y + 5, x, y, gzip=False)
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    assert f"label {int(y.max()) + 5}" in one_line(e) and "0..9" in str(e.value)


# ---------------------------------------------------------------- CIFAR-10

@pytest.mark.parametrize("python2", [True, False], ids=["pickled-by-python2", "pickled-by-python3"])
def test_cifar_batches_round_trip(tmp_path, python2):
    arrays = cifar_arrays()
    names = [f"class{k}" for k in range(10)]  # from batches.meta, not the built-in list
    write_cifar_batches(tmp_path, *arrays, label_names=names, python2=python2)
    ds = load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert_matches(ds, *arrays)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.classes == names
    assert ds.source == str(tmp_path / "cifar-10-batches-py")


def test_cifar_tar_gz_round_trip(tmp_path):
    arrays = cifar_arrays()
    write_cifar_tar_gz(tmp_path / "cifar10", *arrays)
    ds = load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert_matches(ds, *arrays)
    assert ds.classes == CIFAR_CLASSES
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == ["cifar-10-python.tar.gz"]  # nothing extracted


@pytest.mark.parametrize("sub", ["cifar-10", "cifar10", ""])
def test_cifar_npz_round_trip(tmp_path, sub):
    arrays = cifar_arrays()
    write_npz(tmp_path / sub / "cifar10.npz", *arrays, compressed=True)
    ds = load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert_matches(ds, *arrays)
    assert ds.classes == CIFAR_CLASSES and ds.name == "cifar10"


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))  # would create a file if the unpickler ran it


def test_cifar_malicious_pickle_is_refused(tmp_path):
    out = write_cifar_batches(tmp_path, *cifar_arrays())
    marker = tmp_path / "pwned"
    (out / "data_batch_3").write_bytes(pickle.dumps({b"data": _Evil(marker)}, protocol=2))
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    msg = one_line(e)
    assert "data_batch_3" in msg and "open" in msg  # the file, and the callable it was not allowed to call
    assert not marker.exists()


def test_cifar_missing_batch_and_bad_data(tmp_path):
    out = write_cifar_batches(tmp_path, *cifar_arrays())
    bad = {b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}
    (out / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DatasetError, match=r"test_batch.*uint8 \(N, 3072\)"):
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    (out / "data_batch_5").unlink()
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert "data_batch_5" in one_line(e) and "data_batch_4" not in str(e.value)


# ---------------------------------------------------------------- arrays:PATH.npz

@pytest.mark.parametrize("layout", ["nhw", "nhwc1", "nhwc3", "nchw1", "nchw3"])
def test_arrays_layouts(tmp_path, layout):
    channels = {"nhw": 0, "nhwc1": 1, "nhwc3": 3, "nchw1": 1, "nchw3": 3}[layout]
    x_tr, y_tr = tiny_images(12, 10, channels=channels, num_classes=4, seed=5)
    x_te, y_te = tiny_images(8, 10, channels=channels, num_classes=4, seed=6)
    save = (lambda x: x.transpose(0, 3, 1, 2)) if layout.startswith("nchw") else (lambda x: x)
    path = write_npz(tmp_path / "d.npz", save(x_tr), y_tr.reshape(-1, 1), save(x_te), y_te)  # (N, 1) labels too
    ds = load_dataset(f"arrays:{path}")
    assert_matches(ds, x_tr, y_tr, x_te, y_te)
    assert ds.x_train.shape == (12, max(channels, 1), 10, 10)
    assert ds.classes == ["0", "1", "2", "3"] and ds.name == f"arrays:{path}"


def test_arrays_class_names_and_float_images(tmp_path):
    x, y = tiny_images(6, 8, num_classes=3)
    path = write_npz(tmp_path / "d.npz", x / 255.0, y, x.astype(np.float32) / 255, y, classes=["ant", "bee", "cow"])
    ds = load_dataset(f"arrays:{path}")
    assert ds.classes == ["ant", "bee", "cow"]
    np.testing.assert_array_equal(ds.x_train.numpy()[:, 0], x)  # 0..1 floats scaled back exactly


@pytest.mark.parametrize("case, expect", [
    ("non_square", "square"),
    ("int16", "uint8"),
    ("float_range", "0..1"),
    ("missing_key", "y_test"),
    ("bad_shape", "(6, 8, 8, 5)"),
    ("count", "5 labels"),
    ("float_labels", "integers"),
])
def test_arrays_bad_inputs(tmp_path, case, expect):
    x, y = tiny_images(6, 8)
    arrays = dict(x_train=x, y_train=y, x_test=x, y_test=y)
    if case == "non_square":
        arrays["x_train"] = np.zeros((6, 8, 9), np.uint8)
    elif case == "int16":
        arrays["x_train"] = x.astype(np.int16)
    elif case == "float_range":
        arrays["x_train"] = x.astype(np.float32)  # 0..255 as floats
    elif case == "missing_key":
        del arrays["y_test"]
    elif case == "bad_shape":
        arrays["x_train"] = np.zeros((6, 8, 8, 5), np.uint8)
    elif case == "count":
        arrays["y_train"] = y[:5]
    elif case == "float_labels":
        arrays["y_train"] = y.astype(np.float32)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError) as e:
        load_dataset(f"arrays:{path}")
    msg = one_line(e)
    assert expect in msg and str(path) in msg


def test_arrays_refuses_pickled_objects_and_missing_file(tmp_path):
    path = tmp_path / "obj.npz"
    x, y = tiny_images(4, 8)
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y, classes=np.array([object()] * 10, dtype=object))
    with pytest.raises(DatasetError) as e:
        load_dataset(f"arrays:{path}")
    assert f"{path}: classes" in one_line(e)  # the member that needs pickle
    with pytest.raises(DatasetError) as e:
        load_dataset(f"arrays:{tmp_path / 'nope.npz'}")
    assert str(tmp_path / "nope.npz") in one_line(e) and "x_train" in str(e.value)  # what the file must hold


# ---------------------------------------------------------------- folder:PATH

def test_folder_grayscale_png_with_fixed_split(tmp_path):
    root = write_image_folder(tmp_path / "imgs", n_per_class=10, size=12, mode="L")
    ds = load_dataset(f"folder:{root}")
    assert ds.classes == ["cat", "dog", "frog"] and ds.name == f"folder:{root}"
    assert ds.x_train.shape == (24, 1, 12, 12) and ds.x_test.shape == (6, 1, 12, 12)
    assert torch.bincount(ds.y_test).tolist() == [2, 2, 2]  # stratified 20%
    # brightness follows the class, so labels line up with the images
    means = [ds.x_train[ds.y_train == k].float().mean().item() for k in range(3)]
    assert means == sorted(means)
    again = load_dataset(f"folder:{root}")
    assert torch.equal(ds.x_test, again.x_test) and torch.equal(ds.y_test, again.y_test)
    assert ds.meta["skipped"] == []


def test_folder_rgb_jpeg_split_and_uppercase_ext(tmp_path):
    root = write_image_folder(tmp_path / "imgs", n_per_class=8, size=(40, 30), mode="RGB", split=True, ext="JPG")
    ds = load_dataset(f"folder:{root}")
    assert ds.x_train.shape == (24, 3, 30, 30)  # default size: median shorter side
    assert ds.x_test.shape == (6, 3, 30, 30)
    assert ds.meta["test_split"] == "train/ and test/ folders"
    assert load_dataset(f"folder:{root}", img_size=16).x_train.shape == (24, 3, 16, 16)


def test_folder_takes_every_photo_extension_that_predict_takes(tmp_path):
    for c, shade in (("a", 30), ("b", 220)):
        (tmp_path / c).mkdir()
        for ext in sorted(folder.IMAGE_EXTS):
            Image.new("L", (6, 6), shade).save(tmp_path / c / f"x{ext.upper()}")  # PIL picks the format by name
        (tmp_path / c / "notes.txt").write_text("not an image")
    ds = load_dataset(f"folder:{tmp_path}")
    assert len(ds.y_train) + len(ds.y_test) == 2 * len(folder.IMAGE_EXTS) and ds.meta["skipped"] == []
    x, y = torch.cat([ds.x_train, ds.x_test]), torch.cat([ds.y_train, ds.y_test])
    assert x[y == 0].unique().tolist() == [30] and x[y == 1].unique().tolist() == [220]  # lossless ones exactly


def test_folder_default_size_is_capped(tmp_path):
    root = write_image_folder(tmp_path / "imgs", n_per_class=3, size=(100, 90), mode="L")
    assert load_dataset(f"folder:{root}").img_size == folder.MAX_DEFAULT_SIZE


def test_folder_mixed_modes_become_rgb_and_alpha_goes_white(tmp_path):
    root = write_image_folder(tmp_path / "imgs", n_per_class=5, size=8, mode="L")
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(root / "cat" / "clear.png")  # fully transparent black
    ds = load_dataset(f"folder:{root}")
    assert ds.in_chans == 3
    x = torch.cat([ds.x_train, ds.x_test])
    assert (x.flatten(1) == 255).all(dim=1).sum() == 1  # the transparent image is white


def test_folder_16bit_grayscale_is_rescaled(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.fromarray(np.full((6, 6), 65535 if c == "b" else 1000, np.uint16)).save(tmp_path / c / f"{i}.png")
    ds = load_dataset(f"folder:{tmp_path}")
    x = torch.cat([ds.x_train, ds.x_test])
    y = torch.cat([ds.y_train, ds.y_test])
    assert ds.in_chans == 1
    assert x[y == 1].unique().tolist() == [255] and x[y == 0].unique().tolist() == [4]  # 1000/257, not clipped


def test_folder_honours_exif_orientation(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            a = np.full((8, 16), 255, np.uint8)  # 16 wide, 8 high
            a[:4] = 0  # top half black
            im = Image.fromarray(a, "L")
            exif = Image.Exif()
            exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
            im.save(tmp_path / c / f"{i}.png", exif=exif)
    ds = load_dataset(f"folder:{tmp_path}", img_size=8)
    img = ds.x_train[0, 0].float()  # upright: 8 wide, 16 high, centre 8x8 kept; the black half is now on the right
    assert img[:, :3].mean() > 200 and img[:, 5:].mean() < 50


def test_folder_skips_undecodable_images_with_warning(tmp_path):
    root = write_image_folder(tmp_path / "imgs", n_per_class=5, size=8, mode="RGB")
    bad = root / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.warns(UserWarning, match="broken.png"):
        ds = load_dataset(f"folder:{root}")
    assert ds.meta["skipped"] == [str(bad)]
    assert len(ds.y_train) + len(ds.y_test) == 15


def test_folder_decompression_bomb_is_skipped(tmp_path, monkeypatch):
    root = write_image_folder(tmp_path / "imgs", n_per_class=4, size=8, mode="L")
    Image.new("L", (30, 30)).save(root / "cat" / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # lower than the default: 30x30 = 900 pixels is a "bomb"
    with pytest.warns(UserWarning, match="bomb.png"):
        ds = load_dataset(f"folder:{root}")
    assert ds.meta["skipped"] == [str(root / "cat" / "bomb.png")]


def test_folder_empty_and_empty_class_and_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError) as e:
        load_dataset(f"folder:{tmp_path / 'empty'}")
    assert f"{tmp_path / 'empty'}/<class>/" in one_line(e)  # the layout expected there

    root = write_image_folder(tmp_path / "imgs", n_per_class=3, size=8, mode="L")
    (root / "zebra").mkdir()
    (root / "zebra" / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError) as e:
        load_dataset(f"folder:{root}")
    assert str(root / "zebra") in one_line(e) and ".jpg" in str(e.value)  # the folder, and the extensions taken

    with pytest.raises(DatasetError) as e:
        load_dataset(f"folder:{tmp_path / 'nope'}")
    assert str(tmp_path / "nope") in one_line(e)


def test_folder_class_where_nothing_decodes(tmp_path):
    root = write_image_folder(tmp_path / "imgs", n_per_class=3, size=8, mode="L")
    for p in (root / "dog").iterdir():
        p.write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DatasetError) as e:
            load_dataset(f"folder:{root}")
    assert "'dog'" in one_line(e) and "'cat'" not in str(e.value)


# ---------------------------------------------------------------- splits

def test_stratified_indices_deterministic_and_disjoint():
    y = torch.arange(100) % 4
    kept, taken = stratified_indices(y, 0.2, seed=0)
    kept2, taken2 = stratified_indices(y, 0.2, seed=0)
    assert torch.equal(taken, taken2) and torch.equal(kept, kept2)
    assert set(kept.tolist()).isdisjoint(taken.tolist()) and len(kept) + len(taken) == 100
    assert torch.bincount(y[taken]).tolist() == [5, 5, 5, 5]
    assert not torch.equal(taken, stratified_indices(y, 0.2, seed=1)[1])


# ---------------------------------------------------------------- lookup order

@pytest.mark.parametrize("with_name_level", [True, False])
def test_lookup_data_dir_with_and_without_name_level(tmp_path, monkeypatch, with_name_level):
    where = tmp_path / "fashion-mnist" if with_name_level else tmp_path
    _, md5s = idx_fixture(where)
    accept_md5s(monkeypatch, "fashion-mnist", md5s)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert ds.source == str(where) and len(ds.y_train) == 30


def test_lookup_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    # three copies with different sizes, so we can tell which one was loaded
    _, md5_a = idx_fixture(tmp_path / "a" / "mnist", n_train=11, gzip=False)
    _, md5_b = idx_fixture(tmp_path / "b" / "mnist", n_train=12, gzip=False)
    _, md5_c = idx_fixture(tmp_path / "xdg-cache" / "bakeoff" / "mnist", n_train=13, gzip=False)
    monkeypatch.setenv("BAKEOFF_DATA", str(tmp_path / "b"))
    assert len(load_dataset("mnist", data_dir=tmp_path / "a", download=False).y_train) == 11
    assert len(load_dataset("mnist", download=False).y_train) == 12
    monkeypatch.delenv("BAKEOFF_DATA")
    assert len(load_dataset("mnist", download=False).y_train) == 13
    rows = {r["name"]: r for r in describe_datasets()}
    assert rows["mnist"]["found"] and rows["mnist"]["where"] == str(tmp_path / "xdg-cache" / "bakeoff" / "mnist")


def test_missing_data_dir_fails_loudly(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_dataset("mnist", data_dir=tmp_path / "typo")
    assert str(tmp_path / "typo") in one_line(e) and "127.0.0.1" not in str(e.value)  # no download tried


def test_describe_datasets(tmp_path):
    write_cifar_batches(tmp_path, *cifar_arrays())
    rows = describe_datasets(tmp_path)
    assert [r["name"] for r in rows] == DATASET_NAMES
    assert all(set(r) == {"name", "found", "where"} for r in rows)
    by_name = {r["name"]: r for r in rows}
    assert by_name["digits"]["found"] and by_name["cifar10"]["found"]
    assert by_name["cifar10"]["where"] == str(tmp_path / "cifar-10-batches-py")
    assert not by_name["mnist"]["found"] and "\n" not in by_name["mnist"]["where"]
    assert "--data-dir" in by_name["mnist"]["where"]


# ---------------------------------------------------------------- download

@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on 127.0.0.1 serving `tmp_path/www`; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_idx_into_cache_then_reuse(tmp_path, monkeypatch, http_root):
    www, url = http_root
    arrays, md5s = idx_fixture(www)
    accept_md5s(monkeypatch, "mnist", md5s)
    monkeypatch.setattr(DATASETS["mnist"], "mirrors", ["http://127.0.0.1:9/", url])  # first mirror is down
    ds = load_dataset("mnist", quiet=True)
    assert_matches(ds, *arrays)
    cache = tmp_path / "xdg-cache" / "bakeoff" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(idx.GZ_NAMES)  # no .part left
    for p in www.iterdir():
        p.unlink()  # now only the cache can serve it
    assert ds.source == load_dataset("mnist", quiet=True).source == str(cache)


def test_download_cifar_tar(tmp_path, monkeypatch, http_root):
    www, url = http_root
    arrays = cifar_arrays()
    tar = write_cifar_tar_gz(www, *arrays)
    monkeypatch.setattr(cifar, "TAR_MD5", hashlib.md5(tar.read_bytes()).hexdigest())
    monkeypatch.setattr(DATASETS["cifar10"], "mirrors", [url])
    ds = load_dataset("cifar10", quiet=True)
    assert_matches(ds, *arrays)
    assert ds.source == str(tmp_path / "xdg-cache" / "bakeoff" / "cifar10" / "cifar-10-python.tar.gz")


def test_download_md5_mismatch_leaves_nothing(tmp_path, http_root):
    www, url = http_root
    (www / "f.bin").write_bytes(b"some bytes")
    dest = tmp_path / "dl" / "f.bin"
    with pytest.raises(DatasetError) as e:
        download.fetch([url + "f.bin"], dest, md5="0" * 32, quiet=True)
    msg = one_line(e)
    assert "0" * 32 in msg and "md5" in msg
    assert list(dest.parent.iterdir()) == []


def test_download_fetch_success_is_atomic(tmp_path, http_root):
    www, url = http_root
    (www / "f.bin").write_bytes(b"x" * 200_000)
    dest = tmp_path / "dl" / "f.bin"
    download.fetch([url + "missing.bin", url + "f.bin"], dest, hashlib.md5(b"x" * 200_000).hexdigest(), quiet=True)
    assert dest.read_bytes() == b"x" * 200_000
    assert [p.name for p in dest.parent.iterdir()] == ["f.bin"]


def test_unreachable_download_fails_fast_with_one_line(tmp_path):
    start = time.monotonic()
    with pytest.raises(DatasetError) as e:
        load_dataset("fashion-mnist", data_dir=tmp_path, quiet=True)
    assert time.monotonic() - start < 5
    msg = one_line(e)
    assert str(tmp_path / "fashion-mnist") in msg  # where it looked
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg  # the download tried
    assert "--data-dir DIR" in msg and "train-images-idx3-ubyte.gz," in msg  # how to supply the files
    assert not any((tmp_path / "xdg-cache").rglob("*.part"))


def test_download_off_says_so(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    msg = one_line(e)
    assert str(tmp_path / "cifar10") in msg and "cifar10.npz" in msg  # where it looked, what it looks for
    assert "127.0.0.1" not in msg and not (tmp_path / "xdg-cache" / "bakeoff" / "cifar10").exists()  # no download


# ---------------------------------------------------------------- the real datasets (pytest -m slow)

def _real(sub: str) -> Path:
    if not (REAL_DATA / sub).exists():
        pytest.skip(f"{REAL_DATA / sub} not on this machine")
    return REAL_DATA


@pytest.mark.slow
@pytest.mark.parametrize("name, train_first, test_first, train_counts", [
    ("fashion-mnist", [9, 0, 0, 3, 0, 2, 7, 2, 5, 5], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7], [6000] * 10),
    ("mnist", [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
     [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
])
def test_real_idx_datasets(name, train_first, test_first, train_counts):
    ds = load_dataset(name, data_dir=_real(name), download=False)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.y_train[:10].tolist() == train_first and ds.y_test[:10].tolist() == test_first
    assert torch.bincount(ds.y_train).tolist() == train_counts
    mean = ds.x_train.float().mean().item() / 255
    assert abs(mean - (0.2860 if name == "fashion-mnist" else 0.1307)) < 1e-3
    assert ds.classes == idx.CLASSES[name]
    assert photo_domain(ds.x_train) == dict(zip(("background", "object_fill"), DATASETS[name].domain))


@pytest.mark.slow
def test_real_cifar10():
    ds = load_dataset("cifar10", data_dir=_real("cifar-10"), download=False)
    assert ds.x_train.shape == (50000, 3, 32, 32) and ds.x_test.shape == (10000, 3, 32, 32)
    assert ds.y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert ds.y_test[:5].tolist() == [3, 8, 8, 0, 6]
    assert torch.bincount(ds.y_train).tolist() == [5000] * 10
    assert torch.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.classes == CIFAR_CLASSES
    mean, _ = ds.channel_stats()
    assert np.allclose(mean, [0.4914, 0.4822, 0.4465], atol=1e-3)
    assert photo_domain(ds.x_train) == dict(zip(("background", "object_fill"), DATASETS["cifar10"].domain))

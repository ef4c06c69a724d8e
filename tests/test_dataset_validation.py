"""Dataset readers refuse labels, class names and splits that would train wrongly or crash later, in one line.

Each case was found by an adversarial sweep (issue 18): a uint64 label of 2**64-1 wrapped to -1, CIFAR labels
of 0.5 were truncated to 0, a label of 10**6 made a million classes, empty splits and non-square IDX images
failed mid-training, and an autoencoder tested on two images lost its whole run in t-SNE.
"""
import pickle

import numpy as np
import pytest
from data_fixtures import CIFAR_CLASSES, cifar_batch_blobs, tiny_images, write_idx_gz, write_npz

from bakeoff.cli import main
from bakeoff.data.arrays import load_arrays
from bakeoff.data.cifar import _from_blobs
from bakeoff.data.idx import load_idx
from bakeoff.data.labels import MAX_CLASSES
from bakeoff.errors import DatasetError


def npz_with_labels(tmp_path, y_train, classes=None):
    x, _ = tiny_images(len(y_train), size=8)
    xt, yt = tiny_images(4, size=8, num_classes=2)
    return write_npz(tmp_path / "d.npz", x, np.asarray(y_train), xt, yt.astype(np.int64), classes=classes)


def one_line_error(load) -> str:
    with pytest.raises(DatasetError) as e:
        load()
    text = str(e.value)
    assert "\n" not in text and len(text) < 400, text
    return text


@pytest.mark.parametrize("labels, expected", [
    (np.array([0, 1, 2**64 - 1], np.uint64), f"at most {MAX_CLASSES:,} classes"),  # wrapped to -1 before
    (np.array([0, 1, 10**6]), f"at most {MAX_CLASSES:,} classes"),  # a million-class head before
    (np.array([0, 1, 0.5]), "not a whole number"),
    (np.array([0, 1, np.nan]), "not a whole number"),
    (np.array([0, 1, -1]), "negative label"),
    (np.array([True, False, True]), "labels are bool"),
    (np.array([0, 1, 50]), "more than the 7 images hold"),  # 51 classes counted from 7 labelled images
])
def test_npz_labels_out_of_type_or_range_are_one_line(tmp_path, labels, expected):
    path = npz_with_labels(tmp_path, labels)
    assert expected in one_line_error(lambda: load_arrays(path))


def test_npz_integer_labels_of_any_width_are_read_as_classes(tmp_path):
    ds = load_arrays(npz_with_labels(tmp_path, np.array([0, 1, 1], np.uint64)))
    assert ds.y_train.tolist() == [0, 1, 1] and ds.num_classes == 2


def test_npz_with_more_class_names_than_the_limit_is_refused(tmp_path):
    path = npz_with_labels(tmp_path, np.array([0, 1, 0]), classes=[str(i) for i in range(MAX_CLASSES + 1)])
    assert f"expected 1..{MAX_CLASSES:,}" in one_line_error(lambda: load_arrays(path))


def cifar(y_train=None, y_test=None, label_names=CIFAR_CLASSES, n_train=10, n_test=4, patch=None):
    x, y = tiny_images(n_train, size=32, channels=3)
    xt, yt = tiny_images(n_test, size=32, channels=3)
    blobs = cifar_batch_blobs(x, y if y_train is None else y_train, xt, yt if y_test is None else y_test,
                              label_names, python2=False)
    for name, obj in (patch or {}).items():
        blobs[name] = pickle.dumps(obj, protocol=2)
    return lambda: _from_blobs(blobs, "cifar")


def cifar_batch(labels, n=2):
    return {b"data": np.zeros((n, 3072), np.uint8), b"labels": labels}


@pytest.mark.parametrize("patch, expected", [
    ({"test_batch": cifar_batch([0.5, 1])}, "label 0.5 is not an integer"),  # truncated to 0 before
    ({"test_batch": cifar_batch([2**70, 1])}, f"at most {MAX_CLASSES:,} classes"),
    ({"test_batch": cifar_batch(np.array([0.5, 1.0]))}, "not a whole number"),
    ({"test_batch": cifar_batch(np.array([0.0, 1.0]))}, "labels are float64; expected integers"),
    ({"test_batch": cifar_batch("01")}, "labels must be a list of integers"),
    ({"test_batch": cifar_batch([], n=0)}, "holds no images"),
    ({f"data_batch_{i}": cifar_batch([], n=0) for i in range(1, 6)}, "training batches hold no images"),
    ({"batches.meta": {b"label_names": 10}}, "class names must be a list of strings"),
    ({"batches.meta": {b"label_names": "airplane"}}, "class names must be a list of strings"),
    ({"batches.meta": {b"label_names": [1, 2]}}, "class names must be a list of strings"),
    ({"batches.meta": {b"label_names": []}}, "expected 1.."),
])
def test_cifar_batches_with_bad_labels_names_or_no_images_are_one_line(patch, expected):
    assert expected in one_line_error(cifar(patch=patch))


def test_cifar_labels_beyond_the_class_names_are_refused():
    assert "out of range for 10 classes" in one_line_error(cifar(y_test=np.array([0, 1, 2, 10])))


def test_idx_non_square_images_are_refused(tmp_path):
    x, y = tiny_images(6, size=8)
    write_idx_gz(tmp_path, x[:, :, :6], y, x[:, :, :6], y, gzip=False)
    assert "8x6; bakeoff needs square images" in one_line_error(lambda: load_idx(tmp_path, "mnist"))


@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_with_no_images_is_refused(tmp_path, split):
    x, y = tiny_images(6, size=8)
    empty_x, empty_y = x[:0], y[:0]
    if split == "train":
        write_idx_gz(tmp_path, empty_x, empty_y, x, y, gzip=False)
    else:
        write_idx_gz(tmp_path, x, y, empty_x, empty_y, gzip=False)
    assert "holds no images" in one_line_error(lambda: load_idx(tmp_path, "mnist"))


def test_a_huge_label_through_the_cli_is_one_line_exit_2(tmp_path, capsys):
    path = npz_with_labels(tmp_path, np.array([0, 1, 10**6]))
    rc = main(["compare", "--dataset", f"arrays:{path}", "--models", "mlp", "--epochs", "1", "--out",
               str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "at most" in err, err


def test_an_autoencoder_tested_on_two_images_keeps_its_run(tmp_path, capsys, one_thread):
    x, y = tiny_images(40, size=8, num_classes=2)
    xt, yt = tiny_images(2, size=8, num_classes=2, seed=1)
    path = write_npz(tmp_path / "two.npz", x, y.astype(np.int64), xt, yt.astype(np.int64))
    out = tmp_path / "out"
    rc = main(["compare", "--dataset", f"arrays:{path}", "--models", "autoencoder", "--epochs", "1",
               "--latent-dim", "4", "--batch-size", "16", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    import json

    [run] = [p for p in out.iterdir() if (p / "metrics.json").is_file()]
    assert json.loads((run / "metrics.json").read_text())["status"] == "finished"
    assert (run / "autoencoder.npz").is_file()

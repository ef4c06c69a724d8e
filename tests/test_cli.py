"""The command line as a user meets it: help texts, and bad input as one line with exit status 2."""
import gzip
import os
import subprocess
import sys
import time

import pytest

from bakeoff.cli import main

SUBCOMMANDS = ["compare", "train", "evaluate", "models", "datasets"]


def bakeoff(*args, cwd=None, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "bakeoff", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_opens_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"usage: bakeoff {command} ")
    assert "--" in first or command in ("models", "datasets")  # a concrete invocation, not a synopsis


def _write_corrupt_idx(d):
    d.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (d / name).write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 10)[:-7])  # truncated


BAD_INPUTS = {
    "unknown model": (["compare", "--models", "mlp,resnt"], "unknown model 'resnt'; choose from: autoencoder, basic-cnn, cnn4"),
    "unknown dataset": (["compare", "--dataset", "imagenet"], "unknown dataset 'imagenet'; choose from:"),
    "unknown optimizer": (["train", "--optimizer", "adamax"], "unknown optimizer 'adamax'; choose from: adadelta, adam"),
    "unknown schedule": (["train", "--schedule", "step"], "unknown schedule 'step'; choose from: cosine, none, onecycle"),
    "bad lr list": (["compare", "--lrs", "1e-3,fast"], "cannot read '1e-3,fast' as a comma-separated list of float"),
    "negative epochs": (["train", "--epochs", "0"], "--epochs must be at least 1"),
    "unknown flag": (["compare", "--modles", "mlp"], "unrecognized arguments: --modles"),
    "missing checkpoint": (["evaluate", "nowhere/best.pt"], "checkpoint not found: nowhere/best.pt"),
    "subset too large": (["train", "--train-subset", "99999"], "--train-subset must be between 1 and 1437"),
    "unknown recipe": (["train", "--recipe", "fastest"], "unknown recipe 'fastest'; choose from: fast, none"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case, tmp_path):
    args, expected = BAD_INPUTS[case]
    r = bakeoff(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert expected in lines[0]


def test_corrupt_idx_names_the_file(tmp_path):
    _write_corrupt_idx(tmp_path / "fashion-mnist")
    r = bakeoff("compare", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "train-images-idx3-ubyte.gz" in r.stderr or "labels-idx1-ubyte.gz" in r.stderr


def test_missing_dataset_without_network_fails_fast_and_says_where_it_looked(tmp_path, monkeypatch, capsys):
    # A closed local port stands in for "no network": the download is really attempted and refused.
    from bakeoff.data import download

    monkeypatch.setitem(download.MIRRORS, "mnist", ["http://127.0.0.1:9/"])
    (tmp_path / "empty").mkdir()
    start = time.monotonic()
    rc = main(["compare", "--dataset", "mnist", "--data-dir", str(tmp_path / "empty"), "--quiet"])
    err = capsys.readouterr().err
    assert time.monotonic() - start < 30
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "looked in" in err and str(tmp_path / "empty") in err and "download failed" in err
    assert "--data-dir" in err  # how to supply the files


def test_empty_folder_dataset(tmp_path):
    (tmp_path / "photos").mkdir()
    r = bakeoff("compare", "--dataset", f"folder:{tmp_path / 'photos'}", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "photos" in r.stderr


def test_unknown_grid_key(tmp_path):
    (tmp_path / "g.yaml").write_text("models: [mlp]\nepochz: 3\n")
    r = bakeoff("compare", "-c", str(tmp_path / "g.yaml"), cwd=tmp_path)
    assert r.returncode == 2 and "unknown key in g.yaml: 'epochz'" in r.stderr and "Traceback" not in r.stderr


def test_models_command_lists_the_registry(capsys):
    assert main(["models", "--dataset", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert "simple-cnn" in out and "29,306,282" in out and "resnet20" in out

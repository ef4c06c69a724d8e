"""The command line as a user meets it: help texts, and bad input as one line with exit status 2."""
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakeoff.cli import build_parser, main
from bakeoff.commands.configs import default_out, grid_from_args, one_run_from_args
from bakeoff.config import RunConfig
from bakeoff.data import DATASET_NAMES, DATASETS
from bakeoff.store.runfolder import read_config, read_status
from bakeoff.models.options import grid_runs

SUBCOMMANDS = ["compare", "train", "evaluate", "models", "datasets", "report"]


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


# Each bad input and what its one line must name: the value at fault and, where there is a list, what is valid.
BAD_INPUTS = {
    "unknown model": (["compare", "--models", "mlp,resnt"], ["'resnt'", "autoencoder, basic-cnn, cnn4"]),
    "unknown dataset": (["compare", "--dataset", "imagenet"], ["'imagenet'", *DATASET_NAMES, "arrays:PATH.npz",
                                                               "folder:PATH"]),
    "unknown optimizer": (["train", "--optimizer", "adamax"], ["'adamax'", "adadelta, adam, adamw, rmsprop, sgd"]),
    "unknown schedule": (["train", "--schedule", "step"], ["'step'", "cosine, none, onecycle"]),
    "bad lr list": (["compare", "--lrs", "1e-3,fast"], ["lr", "expected a number", "'fast'"]),
    "negative epochs": (["train", "--epochs", "0"], ["--epochs", "1..100,000", "got 0"]),
    "unknown flag": (["compare", "--modles", "mlp"], ["--modles"]),
    "missing checkpoint": (["evaluate", "nowhere/best.pt"], ["nowhere/best.pt"]),
    "subset too large": (["train", "--train-subset", "99999"], ["--train-subset", "1 and 1437", "99999"]),
    "unknown recipe": (["train", "--recipe", "fastest"], ["'fastest'", "fast, none"]),
    "unknown executor": (["compare", "--executor", "dask"], ["'dask'", "local, ray"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case, tmp_path):
    args, named = BAD_INPUTS[case]
    r = bakeoff(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert all(text in lines[0] for text in named), (named, lines[0])
    assert [f for f in tmp_path.rglob("*") if f.is_file()] == []  # refused before a file was written


def test_corrupt_idx_names_the_file(tmp_path):
    _write_corrupt_idx(tmp_path / "fashion-mnist")
    r = bakeoff("compare", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "train-images-idx3-ubyte.gz" in r.stderr or "labels-idx1-ubyte.gz" in r.stderr


def test_missing_dataset_without_network_fails_fast_and_says_where_it_looked(tmp_path, monkeypatch, capsys):
    # A closed local port stands in for "no network": the download is really attempted and refused.
    monkeypatch.setattr(DATASETS["mnist"], "mirrors", ["http://127.0.0.1:9/"])
    (tmp_path / "empty").mkdir()
    start = time.monotonic()
    rc = main(["compare", "--dataset", "mnist", "--data-dir", str(tmp_path / "empty"), "--quiet"])
    err = capsys.readouterr().err
    assert time.monotonic() - start < 30
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert str(tmp_path / "empty") in err  # where it looked
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in err  # what it tried to download
    assert "--data-dir" in err  # how to supply the files


def test_empty_folder_dataset(tmp_path):
    (tmp_path / "photos").mkdir()
    r = bakeoff("compare", "--dataset", f"folder:{tmp_path / 'photos'}", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "photos" in r.stderr


def test_unknown_grid_key(tmp_path):
    (tmp_path / "g.yaml").write_text("models: [mlp]\nepochz: 3\n")
    r = bakeoff("compare", "-c", str(tmp_path / "g.yaml"), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "g.yaml" in r.stderr and "'epochz'" in r.stderr and "epochs" in r.stderr  # the valid keys are listed


def test_models_command_lists_the_registry(capsys):
    assert main(["models", "--dataset", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert "simple-cnn" in out and "29,306,282" in out and "resnet20" in out


@pytest.mark.parametrize("dataset, shape", [("cifar10", "3x32x32, 10 classes"), ("CIFAR-10", "3x32x32, 10 classes"),
                                            ("digits", "1x8x8, 10 classes")])
def test_models_command_takes_built_in_shapes_from_the_dataset_table(dataset, shape, capsys):
    assert main(["models", "--dataset", dataset]) == 0  # no CIFAR-10 files on this machine's isolated cache
    assert f"({shape})" in capsys.readouterr().out


def test_cli_module_loads_no_heavy_library():
    code = "import sys, bakeoff.cli; bakeoff.cli.build_parser(); print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


def _train_args(*argv):
    return build_parser().parse_args(["train", *argv])


def test_train_builds_a_grid_of_one_run_from_its_singular_flags():
    args = _train_args("--model", "mlp", "--optimizer", "sgd", "--lr", "0.05", "--seed", "3", "--augment",
                       "--epochs", "2", "--dataset", "folder:/data/my photos")
    given = dict(vars(args))
    grid, out = one_run_from_args(args)
    assert vars(args) == given  # the namespace is read, never rewritten
    (run,) = grid_runs(grid)
    assert run.to_dict() == RunConfig(model="mlp", optimizer="sgd", lr=0.05, seed=3, augment=True, epochs=2,
                                      dataset="folder:/data/my photos").to_dict()
    assert out == Path("runs/folder-data-my-photos")


def test_train_defaults_to_one_model_unless_a_recipe_names_it():
    (plain,) = grid_runs(one_run_from_args(_train_args())[0])
    assert plain.to_dict() == RunConfig().to_dict()
    (fast,) = grid_runs(one_run_from_args(_train_args("--recipe", "fast", "--dataset", "mnist"))[0])
    assert (fast.model, fast.optimizer, fast.lr, fast.epochs) == ("fast-net-xs", "sgd", 0.4, 2)
    (mine,) = grid_runs(one_run_from_args(_train_args("--recipe", "fast", "--model", "mlp", "--lr", "0.1"))[0])
    assert (mine.model, mine.lr, mine.optimizer) == ("mlp", 0.1, "sgd")


def test_train_and_a_one_run_compare_make_the_same_run():
    (trained,) = grid_runs(one_run_from_args(_train_args("--model", "cnn4", "--lr", "0.01", "--weight-decay", "1e-4"))[0])
    compare = build_parser().parse_args(["compare", "--models", "cnn4", "--lrs", "0.01", "--weight-decay", "1e-4"])
    (compared,) = grid_runs(grid_from_args(compare)[0])
    assert trained.to_dict() == compared.to_dict()


def test_train_writes_one_finished_run_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "--model", "mlp", "--epochs", "1", "--seed", "2", "--out", str(out), "--quiet"]) == 0
    (run,) = [d for d in out.iterdir() if (d / "config.json").is_file()]
    assert run.name == "mlp_adam_lr0.001_noaug_seed2"
    status = read_status(run)
    assert status["status"] == "finished"
    assert RunConfig.from_dict(read_config(run)).to_dict() == RunConfig(model="mlp", epochs=1, seed=2).to_dict()
    assert f"{100 * status['test_acc']:.2f}" in capsys.readouterr().out  # the leaderboard shows this run


def test_default_out_is_a_safe_folder_name():
    assert default_out("folder:/home/me/My Photos/") == Path("runs/folder-home-me-My-Photos")
    assert default_out("fashion-mnist") == Path("runs/fashion-mnist")


def test_models_command_counts_at_another_image_size_without_building_the_weights(capsys):
    """`models --img-size N`: what a folder of photos at N px would cost; simple-cnn's dense layer grows with the
    image (billions of weights at 224 px), counted on the meta device rather than allocated."""
    assert main(["models", "--dataset", "cifar10", "--img-size", "224"]) == 0
    out = capsys.readouterr().out
    assert "(3x224x224, 10 classes)" in out
    row = next(line for line in out.splitlines() if "simple-cnn" in line)
    assert int(row.split("│")[2].strip().replace(",", "")) > 10**9
    assert main(["models", "--img-size", "3"]) == 2
    assert capsys.readouterr().err.strip() == "bakeoff: error: --img-size must be in 4..512, got 3"

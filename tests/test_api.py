"""The Python API: bakeoff.runs.grid / bakeoff.load, the result's DataFrame, runs, best model and inline report."""
import csv
import html
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import bakeoff
from bakeoff import files
from bakeoff.store import runfolder
from bakeoff.cli import main
from bakeoff.data import load_dataset
from bakeoff.data.memory import save_in_memory_dataset

MODELS = ["mlp", "simple-cnn"]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """One small comparison on the bundled digits, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("api") / "cmp"
    return bakeoff.compare(dataset="digits", models=MODELS, epochs=1, out=out, robustness=False, quiet=True)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_leaderboard_is_the_csv_as_a_dataframe(result):
    df = result.leaderboard
    with open(result.path / "leaderboard.csv") as f:
        header = next(csv.reader(f))
    assert list(df.columns) == header  # the file's columns, in its order
    assert header[:4] == ["model", "optimizer", "lr", "augment"]
    assert sorted(df["model"]) == sorted(MODELS)
    assert list(df["val_acc"]) == sorted(df["val_acc"], reverse=True)  # best validation accuracy first
    assert df["test_acc_mean"].between(0, 1).all()


def test_runs_carry_id_config_metrics_and_folder(result):
    runs = result.runs
    assert [r.config["model"] for r in runs] == MODELS  # grid order
    for run in runs:
        assert run.status == "finished" and run.path.is_dir() and run.path.name == run.id
        assert run.metrics == json.loads((run.path / "metrics.json").read_text())
        assert run.config["epochs"] == 1 and len(run.history) == 1


def test_best_is_the_top_row_and_predicts_as_training_evaluated(result, digits):
    best = result.best
    assert best.name.startswith(result.leaderboard["model"][0] + "_")
    assert best.classes == digits.classes
    saved = files.read_arrays(best.path.parent / runfolder.PREDICTIONS_FILE)
    x = digits.x_test[:20]  # (20, 1, 8, 8) uint8 tensor, the layout training used
    top = best.predict(x, top_k=3)
    assert len(top) == 20 and all(len(t) == 3 for t in top)
    assert all(t[0]["prob"] >= t[1]["prob"] >= t[2]["prob"] for t in top)
    predicted = [best.classes.index(t[0]["label"]) for t in top]
    assert np.mean(np.array(predicted) == saved["y_pred"][:20]) >= 0.95  # bf16 evaluation may flip a close call
    hwc_float = x.permute(0, 2, 3, 1).numpy() / 255.0  # the same images as Keras holds them
    assert best.predict(hwc_float) == top
    probs = best.predict_proba(x[:2])
    assert probs.shape == (2, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_report_shows_inline_and_is_on_disk(result):
    report = result.report()
    assert report.path == result.path / "report.html" and report.path.is_file()
    shown = report._repr_html_()
    assert shown.startswith("<iframe srcdoc=")
    page = html.unescape(shown)
    assert "<table" in page and all(m in page for m in MODELS)


def test_load_reopens_the_same_comparison(result):
    again = bakeoff.load(result.path)
    assert again.leaderboard.equals(result.leaderboard)
    assert [r.id for r in again.runs] == [r.id for r in result.runs]
    assert again.best.name == result.best.name


def test_a_rerun_trains_nothing_and_returns_the_same(result, capsys):
    again = bakeoff.compare(dataset="digits", models=MODELS, epochs=1, out=result.path, robustness=False)
    assert "already done, skipped" in capsys.readouterr().err
    assert again.leaderboard.equals(result.leaderboard)


def test_load_of_a_folder_that_is_no_comparison(tmp_path):
    with pytest.raises(bakeoff.BakeoffError, match="not a bakeoff comparison folder"):
        bakeoff.load(tmp_path)


@pytest.mark.parametrize("kwargs, cli", [
    ({"models": ["resnt"]}, ["--models", "resnt"]),
    ({"models": "mlp", "epochs": 0}, ["--models", "mlp", "--epochs", "0"]),
    ({"models": "mlp", "lrs": "fast"}, ["--models", "mlp", "--lrs", "fast"]),
    ({"models": "mlp", "optimizers": ["adam", "adam"]}, ["--models", "mlp", "--optimizers", "adam,adam"]),
])
def test_bad_arguments_raise_the_command_lines_one_line(kwargs, cli, tmp_path, capsys):
    with pytest.raises(bakeoff.BakeoffError) as raised:
        bakeoff.compare(dataset="digits", out=tmp_path / "x", **kwargs)
    assert main(["compare", "--dataset", "digits", "--out", str(tmp_path / "y"), *cli]) == 2
    assert capsys.readouterr().err.strip() == f"bakeoff: error: {raised.value}"


def test_unknown_options_are_named(tmp_path):
    with pytest.raises(bakeoff.ConfigError, match="unknown option 'learning_rate'; choose from: .*lrs"):
        bakeoff.compare(dataset="digits", models="mlp", learning_rate=0.1, out=tmp_path)


def _layouts(x_nchw: np.ndarray):
    """The same uint8 (N, C, H, W) images as each layout and type the API takes."""
    hwc = x_nchw.transpose(0, 2, 3, 1)
    return {"HWC uint8": hwc, "CHW uint8": x_nchw, "HWC float": hwc / 255.0,
            "CHW float tensor": torch.from_numpy(x_nchw).float() / 255,
            "HW uint8 tensor": torch.from_numpy(hwc[..., 0])}


@pytest.mark.parametrize("layout", ["HWC uint8", "CHW uint8", "HWC float", "CHW float tensor", "HW uint8 tensor"])
def test_in_memory_layouts_become_one_dataset(layout, digits, tmp_path):
    x = digits.x_train[:50].numpy()
    y = digits.y_train[:50].numpy()
    reference = save_in_memory_dataset((x, y, x[:10], y[:10]), digits.classes, tmp_path)
    given = _layouts(x)[layout]
    path = save_in_memory_dataset((given, torch.from_numpy(y), given[:10], y[:10].reshape(-1, 1)), digits.classes,
                                  tmp_path)
    assert path == reference  # the same contents, so the same file: runs over it are the same runs
    with np.load(path) as saved:
        assert saved["x_train"].dtype == np.uint8 and np.array_equal(saved["x_train"], x)
        assert list(saved["classes"]) == digits.classes


def test_compare_on_in_memory_data(digits, tmp_path):
    names = [f"digit {k}" for k in range(10)]
    x_train = digits.x_train.permute(0, 2, 3, 1).float() / 255  # (N, 8, 8, 1) floats, as Keras users hold them
    result = bakeoff.compare(data=(x_train, digits.y_train, digits.x_test.numpy(), digits.y_test.numpy()),
                             classes=names, models="mlp", epochs=1, out=tmp_path / "cmp", robustness=False,
                             quiet=True)
    assert result.runs[0].config["dataset"].startswith("arrays:") and result.runs[0].status == "finished"
    assert result.best.classes == names
    assert result.best.predict(digits.x_test[:1])[0][0]["label"] in names
    assert bakeoff.load(tmp_path / "cmp").leaderboard.equals(result.leaderboard)


@pytest.mark.parametrize("data, classes, expected", [
    ("x", None, "data: expected (x_train, y_train, x_test, y_test), got str"),
    (([[1]], [0], [[1]], [0]), None, "data: x_train: expected a NumPy array or a torch tensor, got list"),
    ((np.zeros((4, 5, 7), np.uint8), np.zeros(4, int), np.zeros((2, 5, 7), np.uint8), np.zeros(2, int)), None,
     "data: x_train: images are 5x7; bakeoff needs square images"),
    ((np.full((4, 8, 8), 2.0), np.zeros(4, int), np.zeros((2, 8, 8)), np.zeros(2, int)), None,
     "data: x_train: float images must lie in 0..1"),
    ((np.zeros((4, 8, 8), np.int32), np.zeros(4, int), np.zeros((2, 8, 8), np.int32), np.zeros(2, int)), None,
     "data: x_train: images are int32; expected uint8"),
    ((np.zeros((4, 8, 8), np.uint8), np.zeros(3, int), np.zeros((2, 8, 8), np.uint8), np.zeros(2, int)), None,
     "data: x_train holds 4 images but y_train 3 labels"),
    ((np.zeros((4, 8, 8), np.uint8), np.array([0, 1, 2, 3]), np.zeros((2, 8, 8), np.uint8), np.zeros(2, int)),
     ["a", "b"], "data: label 3 is out of range for 2 classes"),
    ((np.zeros((4, 8, 8), np.uint8), np.array([0, 1, -1, 0]), np.zeros((2, 8, 8), np.uint8), np.zeros(2, int)),
     None, "data: y_train: negative label -1"),
])
def test_bad_in_memory_data_is_one_clear_error(data, classes, expected, tmp_path):
    with pytest.raises(bakeoff.DatasetError) as raised:
        bakeoff.compare(data=data, classes=classes, models="mlp", out=tmp_path)
    message = str(raised.value)
    assert message.startswith(expected) and "\n" not in message
    assert not list(tmp_path.iterdir())  # refused before anything is written


def test_data_and_dataset_are_either_or(tmp_path):
    with pytest.raises(bakeoff.ConfigError, match="either dataset= or data="):
        bakeoff.compare(dataset="digits", data=(1, 2, 3, 4), out=tmp_path)
    with pytest.raises(bakeoff.ConfigError, match="classes= names the classes of data="):
        bakeoff.compare(dataset="digits", classes=["a"], out=tmp_path)


def test_importing_bakeoff_loads_nothing_heavy():
    code = ("import sys, bakeoff; api = bakeoff.compare, bakeoff.load; print('torch' in sys.modules, "
            "'pandas' in sys.modules); import bakeoff.runs.grid; print(bakeoff.compare is api[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    # and loading the grid runner (bakeoff.runs.grid) leaves the function in place
    assert done.stdout.split() == ["False", "False", "True"], done.stderr

"""Checkpoints that load safely but do not fit are refused once, on load, in one line: every command that reads
one (evaluate, predict, export, serve, train --pretrained) exits 2 naming what is wrong, and never a traceback."""
import contextlib
import copy
import io
import json
import math
import socket

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.cli import main
from bakeoff.models import create_model
from bakeoff.models.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from bakeoff.models.checkpoint_check import CheckpointError
from serve_fixtures import digit_photo

KWARGS = {"num_classes": 10, "in_chans": 1, "img_size": 8}
PRE = {"dataset": "digits", "in_chans": 1, "img_size": 8, "mean": [0.3], "std": [0.4], "background": "dark",
       "object_fill": 1.0}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A digits MLP checkpoint (random weights: validation is about structure, not accuracy) and its dict."""
    root = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    save_checkpoint(root / "best.pt", create_model("mlp", **KWARGS), model_name="mlp", model_kwargs=KWARGS,
                    classes=[str(k) for k in range(10)], preprocessing=PRE, config={}, metrics={"test_acc": 0.5})
    (root / "zero.png").write_bytes(digit_photo(0))
    return root, torch.load(root / "best.pt", weights_only=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def damaged(ckpt: dict, path: tuple, value=..., delete: bool = False) -> dict:
    """A deep copy with the entry at `path` (keys from the top) replaced, or deleted."""
    c = copy.deepcopy(ckpt)
    holder = c
    for key in path[:-1]:
        holder = holder[key]
    if delete:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return c


def _head_of_five(ckpt):
    return {k: (v[:5] if k.startswith("fc.") else v) for k, v in ckpt["state_dict"].items()}


CASES = {  # what the sweep found, and what the line must name
    "another model": (("model",), "cnn4", "weights do not fit a cnn4"),
    "unknown model": (("model",), "resnt", "'resnt'"),
    "extra kwargs": (("model_kwargs", "depth"), 7, "depth"),
    "empty state_dict": (("state_dict",), {}, "empty"),
    "list state_dict": (("state_dict",), [1, 2], "list"),
    "no preprocessing": (("preprocessing",), None, "preprocessing"),
    "fewer class names than outputs": (("classes",), ["a", "b"], "2 class names for a model with 10 outputs"),
    "absurd img_size": (("model_kwargs", "img_size"), 30000, "4..512"),
    "tiny object_fill": (("preprocessing", "object_fill"), 1e-9, "object_fill"),
    "nan std": (("preprocessing", "std"), [float("nan")], "std"),
    "preprocessing for another input": (("preprocessing", "img_size"), 28, "img_size is 28"),
    "a string test_acc": (("metrics", "test_acc"), "high", "test_acc"),
    "config a list": (("config",), [], "'config'"),
    "negative temperature": (("temperature",), -1.0, "temperature"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_command_refuses_a_checkpoint_that_does_not_fit_in_one_line(good, tmp_path, case):
    root, ckpt = good
    path, value, named = CASES[case]
    bad = damaged(ckpt, path, value) if value is not None else damaged(ckpt, path, delete=True)
    torch.save(bad, tmp_path / "best.pt")
    for args in (["evaluate", tmp_path], ["predict", tmp_path, root / "zero.png"],
                 ["export", tmp_path, "--out", tmp_path / "x.onnx"], ["serve", tmp_path, "--port", free_port()]):
        rc, out, err = run(*args)
        assert rc == 2 and out == "" and len(err.splitlines()) == 1, (args, out, err)
        assert "Traceback" not in err and str(tmp_path / "best.pt") in err and named in err, (args, err)
    assert not (tmp_path / "x.onnx").exists()


def test_pretrained_from_a_checkpoint_that_does_not_fit(good, tmp_path):
    _, ckpt = good
    torch.save(damaged(ckpt, ("state_dict",), _head_of_five(ckpt)), tmp_path / "best.pt")
    rc, _, err = run("train", "--model", "mlp", "--epochs", "1", "--pretrained", tmp_path / "best.pt",
                     "--out", tmp_path / "out", "--quiet")
    assert rc == 2 and len(err.splitlines()) == 1 and "fc.weight is (5, 256)" in err, err


def test_a_good_checkpoint_still_loads_and_an_onnx_export_is_checked_too(good, tmp_path):
    root, _ = good
    model_from_checkpoint(load_checkpoint(root))
    assert run("export", root, "--out", tmp_path / "m.onnx")[0] == 0
    assert run("predict", tmp_path / "m.onnx", root / "zero.png", "--json")[0] == 0


# ---- property: every key missing or of the wrong type -------------------------------------------------------

def _paths(ckpt: dict) -> list[tuple]:
    """Every key of the checkpoint and of its plain nested dicts (not the weights' own names)."""
    found = []
    for key, value in ckpt.items():
        found.append((key,))
        if isinstance(value, dict) and key != "state_dict":
            found += [(key, k) for k in value]
    return found + [("state_dict", "fc.weight"), ("classes", 0), ("preprocessing", "mean", 0), ("temperature",)]


WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.sampled_from([0, -1, 1, 2, 3, 28, 10**6, 0.5, 1e-9, float("nan"), float("inf"), "", "mlp", "dark"]),
    st.floats(allow_nan=True), st.text(max_size=8), st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2), st.just(torch.zeros(3)),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_key_missing_or_wrong_is_one_line_or_works(good, tmp_path, data):
    """Whatever is removed or replaced, predict either works (the change was harmless) or exits 2 in one line."""
    root, ckpt = good
    path = data.draw(st.sampled_from(_paths(ckpt)), label="path")
    delete = data.draw(st.booleans(), label="delete")
    value = None if delete else data.draw(WRONG, label="value")
    try:
        bad = damaged(ckpt, path, value, delete=delete)
    except (IndexError, KeyError):
        return
    torch.save(bad, tmp_path / "best.pt")
    rc, out, err = run("predict", tmp_path, root / "zero.png", "--json")
    assert "Traceback" not in err
    if rc == 0:
        assert len(out.splitlines()) == 1 and all(math.isfinite(t["prob"]) for t in json.loads(out)["top_k"])
    else:
        assert rc == 2 and out == "" and len(err.splitlines()) == 1 and str(tmp_path) in err, err
        with pytest.raises(CheckpointError):
            load_checkpoint(tmp_path)

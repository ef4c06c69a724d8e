"""`bakeoff export` never replaces a checkpoint, nor any existing file without --force; places it cannot write
are one line and exit 2."""
import os

import pytest
import torch

from bakeoff.cli import main
from bakeoff.models import create_model
from bakeoff.models.checkpoint import save_checkpoint

KWARGS = {"num_classes": 10, "in_chans": 1, "img_size": 8}
PRE = {"dataset": "digits", "in_chans": 1, "img_size": 8, "mean": [0.3], "std": [0.4], "background": "dark",
       "object_fill": 1.0}


@pytest.fixture
def run_dir(tmp_path):
    """A run folder holding a digits MLP checkpoint (random weights: only the files matter here)."""
    run = tmp_path / "run"
    torch.manual_seed(0)
    save_checkpoint(run / "best.pt", create_model("mlp", **KWARGS), model_name="mlp", model_kwargs=KWARGS,
                    classes=[str(k) for k in range(10)], preprocessing=PRE, config={}, metrics={})
    return run


def export(capsys, *args):
    rc = main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(rc, out, err, text):
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert text in err, err


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_export_onto_its_own_checkpoint_is_refused_even_with_force(run_dir, capsys, force):
    before = (run_dir / "best.pt").read_bytes()
    for given in (run_dir / "best.pt", run_dir / "." / "best.pt"):
        one_line(*export(capsys, run_dir, "--out", given, "--format", "torchscript", *force),
                 "is the checkpoint being read")
    assert (run_dir / "best.pt").read_bytes() == before


def test_an_existing_file_is_replaced_only_with_force(run_dir, tmp_path, capsys):
    other = tmp_path / "notes.onnx"
    other.write_text("keep me")
    one_line(*export(capsys, run_dir, "--out", other), "exists; pass --force")
    assert other.read_text() == "keep me"
    assert export(capsys, run_dir, "--out", other, "--force")[0] == 0 and other.read_bytes() != b"keep me"
    assert export(capsys, run_dir)[0] == 0  # the default name beside best.pt, once
    one_line(*export(capsys, run_dir), "best.onnx exists; pass --force")


def test_places_that_cannot_be_written_are_one_line(run_dir, tmp_path, capsys):
    one_line(*export(capsys, run_dir, "--out", tmp_path), "is a folder")
    (tmp_path / "file").write_text("")
    one_line(*export(capsys, run_dir, "--out", tmp_path / "file" / "m.onnx"), "is a file, not a folder")
    one_line(*export(capsys, run_dir, "--out", "/dev/full", "--force"), "not a regular file")
    one_line(*export(capsys, run_dir, "--out", "/proc/bakeoff.onnx"), "cannot write /proc/bakeoff.onnx")  # even root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        one_line(*export(capsys, run_dir, "--out", ro / "m.onnx"), f"cannot write {ro / 'm.onnx'}")
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []

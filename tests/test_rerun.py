"""A rerun of `bakeoff compare` with nothing to train returns in seconds: the finished runs are skipped, and
the Grad-CAM maps, grid.json and the report are kept when nothing they are drawn from changed (report/
fingerprint.py); whatever did change is rebuilt, and `bakeoff report OUT` always rebuilds."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from bakeoff.cli import main

ARGS = ["compare", "--models", "mlp,simple-cnn", "--epochs", "1", "--no-robustness", "--quiet"]
KEPT = ("report.html", "report.md", "gradcam.npz", "grid.json")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("rerun") / "cmp"
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


@pytest.fixture
def out(finished, tmp_path):
    """A copy of the finished comparison for one test (times kept: it is as current as the original)."""
    copy = tmp_path / "cmp"
    shutil.copytree(finished, copy)
    return copy


def _times(out, names=KEPT) -> dict:
    return {name: (out / name).stat().st_mtime_ns for name in names}


@pytest.fixture
def no_drawing(monkeypatch):
    """Drawing a report fails the test: a rerun that finds its report current must not draw one."""
    import bakeoff.report.document

    def refuse(*args, **kwargs):
        raise AssertionError("the report was drawn again")

    monkeypatch.setattr(bakeoff.report.document, "build_document", refuse)


def test_a_rerun_with_nothing_to_train_keeps_the_report_grad_cam_and_grid_json(out, no_drawing):
    before, grid = _times(out), (out / "grid.json").read_text()
    assert main([*ARGS, "--out", str(out)]) == 0
    assert _times(out) == before
    assert (out / "grid.json").read_text() == grid  # the record of the compare that trained is kept


def test_a_rerun_that_adds_robustness_redraws_the_report(out):
    fingerprint = json.loads((out / ".report-fingerprint.json").read_text())
    before = _times(out)
    assert main([a for a in ARGS if a != "--no-robustness"] + ["--out", str(out)]) == 0
    after = _times(out)
    assert after["report.html"] > before["report.html"] and after["report.md"] > before["report.md"]
    assert after["gradcam.npz"] == before["gradcam.npz"]  # the same runs and checkpoints: the same maps
    assert "Robustness" in (out / "report.md").read_text() or "corrupt" in (out / "report.md").read_text()
    now = json.loads((out / ".report-fingerprint.json").read_text())
    changed = {k for k in now["files"] if now["files"][k] != fingerprint["files"].get(k)}
    assert "mlp_adam_lr0.001_noaug_seed0/robustness.json" in changed


def test_a_retrained_run_redraws_grad_cam_and_the_report(out):
    (out / "simple-cnn_adam_lr0.001_noaug_seed0" / "metrics.json").unlink()  # as if killed before the end
    before = _times(out)
    assert main([*ARGS, "--out", str(out)]) == 0
    after = _times(out)
    assert all(after[name] > before[name] for name in KEPT)


def test_a_deleted_report_is_written_again(out):
    (out / "report.html").unlink()
    assert main([*ARGS, "--out", str(out)]) == 0
    assert (out / "report.html").is_file()


def test_bakeoff_report_always_rebuilds(out, capsys):
    before = _times(out, ("report.html",))
    assert main(["report", str(out)]) == 0
    assert _times(out, ("report.html",))["report.html"] > before["report.html"]
    assert capsys.readouterr().out.strip() == f"report: {out / 'report.html'}"


def test_a_rerun_loads_no_drawing_or_statistics_library(out):
    """What made a rerun as slow as the first run: matplotlib, SciPy and scikit-learn (2-5 s to import on a
    busy machine) loaded for a report that was then drawn again. A rerun with nothing to train needs none."""
    from bakeoff.data import load_dataset

    load_dataset("digits")  # the digits, cached as any earlier compare on this machine left them
    code = ("import sys; from bakeoff.cli import main; "
            f"assert main({[*ARGS, '--out', str(out)]!r}) == 0; "
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_digits_cache_is_checked_and_rewritten_when_damaged():
    import numpy as np

    from bakeoff.data import load_dataset
    from bakeoff.data.digits import _cache_file

    first = load_dataset("digits")
    cache = _cache_file()
    assert cache.is_file()
    cache.write_bytes(b"not an npz")
    again = load_dataset("digits")  # from scikit-learn again, the cache rewritten
    assert np.array_equal(first.x_test.numpy(), again.x_test.numpy())
    assert np.array_equal(first.y_train.numpy(), again.y_train.numpy())
    assert load_dataset("digits").x_train.shape == first.x_train.shape and cache.stat().st_size > 1000

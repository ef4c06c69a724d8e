"""No wrong result, no stuck grid (issue 18): what compare trusts in a run folder, and what it waits for.

A second compare that waited on a run trains its own when the other process finished it under other
settings or was killed (real processes); settings spelled differently are the same run; an interrupted
compare keeps the earlier grid.json; damaged or tampered run files are refused in one line and retrained,
never trusted, and never a traceback in compare or report.
"""
import json
import signal

import numpy as np
import pytest
import torch

from bakeoff.store import runfolder
from bakeoff.cli import main
from bakeoff.config import RunConfig
from bakeoff.store.matching import normalized, same_run

RUN_ID = "mlp_adam_lr0.001_noaug_seed0"
QUICK = ["--models", "mlp", "--train-subset", "200", "--batch-size", "32", "--no-robustness"]


def hold_the_run_stopped(start, tmp_path, out, epochs: int):
    """Process A: trains the run until its first epoch is saved, then is stopped (SIGSTOP) holding the lock."""
    a = start(["compare", *QUICK, "--epochs", str(epochs), "--out", str(out), "--quiet"], tmp_path)
    history = out / RUN_ID / "history.csv"
    while not (history.is_file() and len(history.read_text().splitlines()) >= 2):
        assert a.poll() is None, a.communicate()
    a.send_signal(signal.SIGSTOP)
    return a


def start_waiting(start, tmp_path, out, epochs: int):
    """Process B: the same grid with its own --epochs; returns once B says it waits for A's run."""
    b = start(["compare", *QUICK, "--epochs", str(epochs), "--out", str(out)], tmp_path)
    seen = []
    for line in b.stderr:
        seen.append(line)
        if "another process is training it" in line:
            return b, seen
    raise AssertionError(f"B never waited: {''.join(seen)} {b.communicate()}")


def test_a_waiting_process_trains_its_own_settings_not_the_holders(tmp_path, start):
    out = tmp_path / "out"
    a = hold_the_run_stopped(start, tmp_path, out, epochs=3)
    b, seen = start_waiting(start, tmp_path, out, epochs=1)
    a.send_signal(signal.SIGCONT)
    assert a.wait(timeout=300) == 0
    _, err = b.communicate(timeout=300)
    assert b.returncode == 0, err
    assert "finished under other settings; training it here" in err, err
    metrics = json.loads((out / RUN_ID / "metrics.json").read_text())
    config = json.loads((out / RUN_ID / "config.json").read_text())
    assert metrics["epochs_run"] == 1 and config["epochs"] == 1  # B's run, not A's 3 epochs


def test_a_waiting_process_takes_over_from_a_holder_killed_with_sigkill(tmp_path, start):
    out = tmp_path / "out"
    a = hold_the_run_stopped(start, tmp_path, out, epochs=3)
    b, seen = start_waiting(start, tmp_path, out, epochs=3)
    a.kill()  # SIGKILL: the lock goes with the process, and nothing is written
    a.wait()
    _, err = b.communicate(timeout=300)
    assert b.returncode == 0, err
    assert "stopped before the end; training it here" in err and "did not finish" not in err, err
    metrics = json.loads((out / RUN_ID / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["epochs_run"] == 3
    assert metrics["resumed_from_epoch"] >= 1  # from A's saved state: nothing A finished is lost


# ---- settings compared as the run uses them ------------------------------------------------------------

def test_a_data_dir_spelled_differently_is_the_same_run(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    out = tmp_path / "out"
    args = ["compare", *QUICK, "--epochs", "1", "--out", str(out)]
    assert main(args + ["--data-dir", f"{tmp_path}/data/"]) == 0
    done = out / RUN_ID / "metrics.json"
    before = done.stat().st_mtime_ns
    capsys.readouterr()
    assert main(args + ["--data-dir", f"{tmp_path}/./data"]) == 0
    assert f"{RUN_ID}: already done, skipped" in capsys.readouterr().err
    assert done.stat().st_mtime_ns == before  # not retrained, not overwritten


def test_paths_are_compared_resolved_and_only_where_the_dataset_reads_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mnist = RunConfig(dataset="mnist", data_dir="data/")
    assert same_run(RunConfig(dataset="MNIST", data_dir=str(tmp_path / "data")).to_dict(), mnist)
    assert not same_run(RunConfig(dataset="mnist", data_dir="other").to_dict(), mnist)
    assert normalized(RunConfig(dataset="digits", data_dir="anything").to_dict())["data_dir"] is None
    assert same_run(RunConfig(dataset="arrays:./x.npz").to_dict(), RunConfig(dataset=f"arrays:{tmp_path}/x.npz"))
    assert not same_run(RunConfig(epochs=2).to_dict(), RunConfig(epochs=1))
    assert not same_run([1, 2], RunConfig()) and not same_run({"model": "no-such-model"}, RunConfig())


def test_an_interrupted_compare_keeps_the_earlier_grid_json(tmp_path, monkeypatch, capsys):
    from bakeoff.runs import executors
    from bakeoff.engine.interrupt import Interrupted

    out = tmp_path / "out"
    assert main(["compare", *QUICK, "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    grid_json = (out / "grid.json").read_text()

    def interrupted(*args, **kwargs):
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(executors, "execute_run", interrupted)
    assert main(["compare", "--models", "cnn4", "--epochs", "1", "--out", str(out), "--quiet"]) == 130
    assert (out / "grid.json").read_text() == grid_json
    from bakeoff.store.comparison import collect

    assert [(r.run_id, r.finished) for r in collect(out).runs] == [(RUN_ID, True)]  # what `report` shows
    assert main(["report", str(out)]) == 0


# ---- run files that do not match are retrained, not trusted -----------------------------------------------

@pytest.fixture
def finished(tmp_path):
    """A comparison folder with one finished one-epoch run, for a test to damage."""
    out = tmp_path / "out"
    assert main(["compare", *QUICK, "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("metrics", ["[1, 2]", '{"status": "finished", "seed": 0}',
                                     '{"status": "finished", "seed": 0, "test_acc": "high"}', "\xff\xfe"])
def test_a_damaged_metrics_json_is_retrained_and_reported_without_a_traceback(finished, metrics, capsys):
    (finished / RUN_ID / "metrics.json").write_bytes(metrics.encode("latin-1"))
    assert main(["report", str(finished)]) == 0
    capsys.readouterr()
    assert main(["compare", *QUICK, "--epochs", "1", "--out", str(finished), "--quiet"]) == 0
    assert "already done" not in capsys.readouterr().err
    assert json.loads((finished / RUN_ID / "metrics.json").read_text())["status"] == "finished"


def test_a_report_lists_runs_whose_files_are_damaged_with_the_reason(tmp_path, capsys):
    other = tmp_path / "out"
    assert main(["compare", *QUICK, "--models", "mlp,cnn4", "--epochs", "1", "--out", str(other), "--quiet"]) == 0
    mlp, cnn4 = other / RUN_ID, other / "cnn4_adam_lr0.001_noaug_seed0"
    (mlp / "history.csv").write_bytes(b"epoch,train_loss\n1,\xff\xfe\n")  # not UTF-8
    runfolder.write_predictions(cnn4, np.zeros(3, np.int64), np.ones((3, 4), np.float32), np.zeros(3))  # 4 classes
    capsys.readouterr()
    assert main(["report", str(other)]) == 0
    md = (other / "report.md").read_text()
    assert "predictions.npz has arrays of shapes" in md


def write_state(run_dir, tamper):
    """The run's own state after epoch 1 (of a 2-epoch run), tampered with."""
    payload = torch.load(run_dir / "state.pt", weights_only=True)
    tamper(payload)
    torch.save(payload, run_dir / "state.pt")


@pytest.mark.parametrize("tamper", [
    lambda p: p["loop"].update(epoch=999),  # would mark the 2-epoch run finished with these weights
    lambda p: p["model"].update({k: torch.zeros(3) for k in p["model"]}),  # weights of other shapes
    lambda p: p["loop"].update(history="x"),
    lambda p: p.update(loop=[1]),
    lambda p: p.update(optimizer={"state": {}, "param_groups": []}),  # fails only when loaded
    lambda p: p["generators"].update(order=torch.zeros(3, dtype=torch.uint8)),
], ids=["epoch-999", "weight-shapes", "history", "loop-list", "optimizer", "random-stream"])
def test_a_tampered_state_is_refused_in_one_line_and_the_run_retrained(tmp_path, tamper, monkeypatch, capsys):
    from bakeoff.runs import runner
    from bakeoff.engine.interrupt import Interrupted

    out = tmp_path / "out"
    args = ["compare", *QUICK, "--epochs", "2", "--out", str(out), "--quiet"]
    real_history = runfolder.write_history

    def stop_after_one_epoch(run_dir, rows):  # as if killed after epoch 1: its state is saved
        real_history(run_dir, rows)
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(runner.runfolder, "write_history", stop_after_one_epoch)
    assert main(args) == 143
    monkeypatch.setattr(runner.runfolder, "write_history", real_history)
    write_state(out / RUN_ID, tamper)
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "state.pt: not resumed" in err and "from the start" in err, err
    metrics = json.loads((out / RUN_ID / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and not metrics["resumed_from_epoch"]


# ---- text the report draws, and where it writes -----------------------------------------------------------

def test_class_names_with_dollar_signs_are_drawn_as_written(tmp_path, capsys):
    from data_fixtures import tiny_images, write_npz

    x, y = tiny_images(60, size=8, num_classes=3)
    xt, yt = tiny_images(12, size=8, num_classes=3, seed=1)
    path = write_npz(tmp_path / "d.npz", x, y, xt, yt, classes=["$a", r"$\foo$", "b$^$"])  # invalid mathtext
    out = tmp_path / "out"
    rc = main(["compare", "--dataset", f"arrays:{path}", "--models", "mlp", "--epochs", "1", "--out", str(out),
               "--quiet"])
    assert rc == 0, capsys.readouterr().err
    assert main(["report", str(out)]) == 0


def test_a_report_on_a_read_only_folder_is_one_line_exit_2(finished, monkeypatch, capsys):
    import errno
    import os
    import tempfile

    def read_only(*args, **kwargs):  # what creating a file on a read-only mount raises (root ignores chmod)
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    rc = main(["report", str(finished)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "read-only file system" in err, err


def test_an_unreachable_ray_address_is_one_line_exit_2(tmp_path, capsys):
    pytest.importorskip("ray")
    rc = main(["compare", *QUICK, "--epochs", "1", "--executor", "ray", "--ray-address", "127.0.0.1:1",
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.splitlines() == [err] and "nothing answers at 127.0.0.1:1" in err, err

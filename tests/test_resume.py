"""Nothing lost: runs resume after SIGKILL, stop cleanly on SIGTERM, share a folder between processes."""
import errno
import json
import os
import re
import signal
import time

import pytest

from bakeoff.cli import main

# Slow enough per epoch (about 0.2 s) to be caught mid-run, still a few seconds in all.
TRAIN = ["train", "--model", "cnn4", "--batch-size", "16", "--epochs", "4", "--augment", "--quiet"]
RUN_ID = "cnn4_adam_lr0.001_aug_seed0"


def wait_for_epochs(run_dir, n, proc, timeout=300):
    """Block until history.csv has n epochs (the state after epoch n is saved before the history)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hist = run_dir / "history.csv"
        if hist.is_file() and len(hist.read_text().strip().splitlines()) - 1 >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("training did not progress")


def metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run, never interrupted."""
    out = tmp_path_factory.mktemp("ref")
    assert main(TRAIN + ["--out", str(out)]) == 0
    return metrics(out / RUN_ID), (out / RUN_ID / "history.csv").read_text()


def _comparable(m):
    return {k: m[k] for k in ("test_acc", "test_loss", "val_acc", "val_loss", "train_acc", "best_epoch", "epochs_run")}


def test_sigkill_then_rerun_ends_with_the_same_metrics(tmp_path, reference, start):
    out = tmp_path / "o"
    proc = start(TRAIN + ["--out", str(out)], tmp_path)
    wait_for_epochs(out / RUN_ID, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / RUN_ID / "metrics.json").exists() and (out / RUN_ID / "state.pt").exists()
    assert main(TRAIN + ["--out", str(out)]) == 0
    m = metrics(out / RUN_ID)
    assert m["resumed_from_epoch"] >= 2
    assert _comparable(m) == _comparable(reference[0])
    ref_rows = [r.split(",")[:5] for r in reference[1].splitlines()]
    assert [r.split(",")[:5] for r in (out / RUN_ID / "history.csv").read_text().splitlines()] == ref_rows
    assert not (out / RUN_ID / "state.pt").exists()  # a finished run keeps only best.pt


def test_sigterm_saves_marks_interrupted_and_resumes(tmp_path, reference, start):
    out = tmp_path / "o"
    proc = start(TRAIN + ["--out", str(out)], tmp_path)
    wait_for_epochs(out / RUN_ID, 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    assert metrics(out / RUN_ID)["status"] == "interrupted"
    assert (out / RUN_ID / "state.pt").exists()
    assert main(TRAIN + ["--out", str(out)]) == 0
    assert _comparable(metrics(out / RUN_ID)) == _comparable(reference[0])


def test_sigint_exits_130(tmp_path, start):
    out = tmp_path / "o"
    proc = start(TRAIN + ["--out", str(out)], tmp_path)
    wait_for_epochs(out / RUN_ID, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted by SIGINT" in err


def test_two_processes_share_one_grid(tmp_path, start):
    out = tmp_path / "shared"
    args = ["compare", "--models", "mlp,cnn4", "--seeds", "0,1", "--epochs", "3", "--batch-size", "16", "--out", str(out)]
    procs = [start(args, tmp_path) for _ in range(2)]
    logs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    trained = [re.match(r"(\S+): val ", line) for _, err in logs for line in err.splitlines()]
    run_ids = [m.group(1) for m in trained if m]
    assert sorted(run_ids) == sorted({*run_ids}) and len(run_ids) == 4, logs  # each run trained exactly once
    with open(out / "leaderboard.csv") as f:
        assert len(f.read().strip().splitlines()) == 1 + 2


def test_no_space_left_is_one_line_and_keeps_finished_runs(tmp_path, monkeypatch, capsys):
    from bakeoff import files
    from bakeoff.store import runfolder

    real = files.atomic_write_bytes

    def failing(path, data):
        if "cnn4" in str(path):  # the second run hits a full disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(runfolder, "atomic_write_bytes", failing)
    out = tmp_path / "full"
    rc = main(["compare", "--models", "mlp,cnn4", "--epochs", "1", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "no space left" in err, err
    assert metrics(out / "mlp_adam_lr0.001_noaug_seed0")["status"] == "finished"


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, capsys):
    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    evil = tmp_path / "best.pt"
    torch.save({"model": "mlp", "state_dict": Payload()}, evil)
    rc = main(["evaluate", str(evil), "--dataset", "digits"])
    err = capsys.readouterr().err
    assert rc == 2 and "refused" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "pwned").exists()

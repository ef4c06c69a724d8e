"""One model on two CPU processes (torchrun, gloo on loopback) against one process with the same global batch."""
import json
import socket
import subprocess
import sys

import pytest

from bakeoff.cli import main

ARGS = ["--model", "mlp", "--epochs", "2", "--batch-size", "64", "--quiet"]
RUN_ID = "mlp_adam_lr0.001_noaug_seed0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_within_tolerance(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(free_port()), "-m", "bakeoff", "train", "--distributed", *ARGS, "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "on 2 processes" in r.stdout
    ddp = json.loads((out / RUN_ID / "metrics.json").read_text())
    assert ddp["world_size"] == 2 and ddp["status"] == "finished"
    assert main(["train", *ARGS, "--out", str(tmp_path / "single")]) == 0
    single = json.loads((tmp_path / "single" / RUN_ID / "metrics.json").read_text())
    # The same global batches and averaged gradients; only dropout masks differ between the two set-ups.
    assert ddp["test_acc"] == pytest.approx(single["test_acc"], abs=0.03)
    assert ddp["val_loss"] == pytest.approx(single["val_loss"], abs=0.05)
    assert ddp["n_train"] == single["n_train"]
    only_rank0 = [p for p in tmp_path.rglob("metrics.json") if "ddp" in str(p)]
    assert len(only_rank0) == 1  # rank 1 wrote nothing into the output folder


def test_distributed_outside_torchrun_says_how(capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert main(["train", "--distributed", "--epochs", "1"]) == 2
    assert "torchrun --nproc-per-node" in capsys.readouterr().err

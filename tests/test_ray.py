"""The Ray executor: a real local Ray instance on 127.0.0.1 runs a small grid; same metrics as local."""
import json
import sys

import pytest

from bakeoff.cli import main
from bakeoff.runs.grid import run_grid
from bakeoff.config import GridConfig
from bakeoff.models.options import grid_runs

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

COMPARED = ("status", "test_acc", "test_loss", "val_acc", "val_loss", "train_acc", "best_epoch", "params")


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def _grid():
    return GridConfig(models=["mlp", "cnn4"], seeds=[0, 1], base={"dataset": "digits", "epochs": 2})


def test_ray_grid_matches_the_local_executor(tmp_path, ray_instance):
    from bakeoff.runs.executors import RayExecutor

    run_grid(_grid(), tmp_path / "local", quiet=True)
    run_grid(_grid(), tmp_path / "ray", quiet=True, executor=RayExecutor(cpus_per_run=2))
    for cfg in grid_runs(_grid()):
        local = json.loads((tmp_path / "local" / cfg.run_id / "metrics.json").read_text())
        remote = json.loads((tmp_path / "ray" / cfg.run_id / "metrics.json").read_text())
        assert {k: local[k] for k in COMPARED} == {k: remote[k] for k in COMPARED}
        for name in ("config.json", "history.csv", "best.pt", "predictions.npz"):
            assert (tmp_path / "ray" / cfg.run_id / name).is_file()
        assert not (tmp_path / "ray" / cfg.run_id / "state.pt").exists()
    local_board = (tmp_path / "local" / "leaderboard.csv").read_text().splitlines()
    ray_board = (tmp_path / "ray" / "leaderboard.csv").read_text().splitlines()
    assert [r.split(",")[:10] for r in local_board] == [r.split(",")[:10] for r in ray_board]


def test_cli_executor_ray_and_skip_on_rerun(tmp_path, ray_instance, capsys):
    args = ["compare", "--models", "mlp", "--epochs", "1", "--executor", "ray", "--cpus-per-run", "1",
            "--out", str(tmp_path / "o")]
    assert main(args) == 0
    assert (tmp_path / "o" / "mlp_adam_lr0.001_noaug_seed0" / "metrics.json").is_file()
    capsys.readouterr()
    assert main(args) == 0
    assert "already done, skipped" in capsys.readouterr().err


def test_without_ray_the_line_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main(["compare", "--executor", "ray", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "pip install -e '.[ray]'" in err

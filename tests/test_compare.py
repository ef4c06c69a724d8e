"""`bakeoff compare` end to end through the CLI entry point: grid, run folders, leaderboard, skip-on-rerun."""
import csv
import json
import statistics

import pytest

from bakeoff.cli import main


def read_leaderboard(out):
    with open(out / "leaderboard.csv") as f:
        return list(csv.DictReader(f))


def test_grid_runs_every_combination_and_aggregates_seeds(tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["compare", "--dataset", "digits", "--models", "mlp,cnn4", "--optimizers", "adam,rmsprop",
               "--lrs", "1e-3", "--seeds", "0,1", "--epochs", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    run_dirs = sorted(p.name for p in out.iterdir() if (p / "config.json").is_file())  # not OUT/figures/
    assert len(run_dirs) == 2 * 2 * 2
    rows = read_leaderboard(out)
    assert len(rows) == 4
    for col in ("model", "optimizer", "lr", "augment", "n_seeds", "train_acc", "val_acc", "test_acc_mean",
                "test_acc_std", "test_loss", "params", "mflops", "train_seconds", "infer_ms"):
        assert col in rows[0]
    vals = [float(r["val_acc"]) for r in rows]
    assert vals == sorted(vals, reverse=True)
    # The aggregate equals the per-seed metrics files.
    r = rows[0]
    seeds = [json.loads((out / f"{r['model']}_{r['optimizer']}_lr0.001_noaug_seed{s}" / "metrics.json").read_text())
             for s in (0, 1)]
    assert float(r["test_acc_mean"]) == pytest.approx(statistics.fmean(m["test_acc"] for m in seeds))
    assert float(r["test_acc_std"]) == pytest.approx(statistics.stdev(m["test_acc"] for m in seeds))
    assert r["n_seeds"] == "2" and int(r["params"]) == seeds[0]["params"]
    md = (out / "leaderboard.md").read_text()
    assert "| model | optimizer |" in md and md.count("\n| ") >= 5
    assert "leaderboard" in capsys.readouterr().out


def test_rerun_skips_finished_runs_and_redoes_unfinished(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--models", "mlp,simple-cnn", "--epochs", "1", "--out", str(out)]
    assert main(args) == 0
    done = out / "mlp_adam_lr0.001_noaug_seed0" / "metrics.json"
    interrupted = out / "simple-cnn_adam_lr0.001_noaug_seed0" / "metrics.json"
    before = done.stat().st_mtime_ns
    interrupted.unlink()  # as if killed before the end
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "mlp_adam_lr0.001_noaug_seed0: already done, skipped" in err
    assert done.stat().st_mtime_ns == before
    assert interrupted.is_file()
    # A changed setting is a different run: it is not skipped.
    assert main(args[:-2] + ["--batch-size", "64", "--out", str(out)]) == 0
    assert "skipped" not in capsys.readouterr().err


def test_grid_yaml_with_flag_override(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("dataset: digits\nmodels: [mlp]\noptimizers: sgd\nlrs: [0.05, 0.01]\nepochs: 3\n"
                    "batch-size: 64\nseeds: [0]\n")
    out = tmp_path / "g"
    assert main(["compare", "-c", str(grid), "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    rows = read_leaderboard(out)
    assert sorted(float(r["lr"]) for r in rows) == [0.01, 0.05]
    cfg = json.loads((out / "mlp_sgd_lr0.05_noaug_seed0" / "config.json").read_text())
    assert cfg["epochs"] == 1 and cfg["batch_size"] == 64 and cfg["optimizer"] == "sgd"


def test_failed_run_is_listed_and_the_grid_goes_on(tmp_path):
    out = tmp_path / "nan"
    assert main(["compare", "--models", "mlp", "--optimizers", "sgd", "--lrs", "1e12,0.01", "--epochs", "1",
                 "--out", str(out), "--quiet"]) == 0
    rows = {float(r["lr"]): r for r in read_leaderboard(out)}
    assert "loss became" in rows[1e12]["failed"] and rows[1e12]["n_seeds"] == "0"
    assert float(rows[0.01]["test_acc_mean"]) > 0.5


def test_train_and_evaluate_agree(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["train", "--model", "cnn4", "--epochs", "2", "--augment", "--out", str(out), "--quiet"]) == 0
    run = out / "cnn4_adam_lr0.001_aug_seed0"
    metrics = json.loads((run / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(run), "--dataset", "digits", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_acc"] == pytest.approx(metrics["test_acc"])


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    """Reports, leaderboards, run files and checkpoints are readable by whoever the umask lets read them."""
    import os

    out = tmp_path / "cmp"
    old = os.umask(umask)
    try:
        assert main(["compare", "--models", "mlp", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    finally:
        os.umask(old)
    run = out / "mlp_adam_lr0.001_noaug_seed0"
    written = [out / "report.html", out / "leaderboard.csv", out / "grid.json", run / "best.pt",
               run / "metrics.json", run / "history.csv", run / "predictions.npz", *(out / "figures").iterdir()]
    assert {p.name: p.stat().st_mode & 0o777 for p in written} == {p.name: mode for p in written}


def test_an_unreadable_saved_state_is_one_line_then_the_run_is_retrained(tmp_path, capsys):
    out = tmp_path / "cmp"
    run = out / "mlp_adam_lr0.001_noaug_seed0"
    run.mkdir(parents=True)
    (run / "state.pt").write_bytes(b"not a torch file")
    rc = main(["compare", "--models", "mlp", "--epochs", "1", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 0 and len(err.splitlines()) == 1 and "state.pt" in err and "from the start" in err, err
    assert json.loads((run / "metrics.json").read_text())["status"] == "finished"  # the grid is not stuck


def test_evaluate_on_a_dataset_with_other_class_names_says_so(tmp_path, capsys):
    from data_fixtures import write_image_folder

    out = tmp_path / "t"
    assert main(["train", "--model", "mlp", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    letters = write_image_folder(tmp_path / "letters", n_per_class=4, size=8, mode="L", split=True,
                                 classes=tuple("abcdefghij"))
    capsys.readouterr()
    rc = main(["evaluate", str(out / "mlp_adam_lr0.001_noaug_seed0"), "--dataset", f"folder:{letters}", "--json"])
    captured = capsys.readouterr()
    assert rc == 0 and json.loads(captured.out)["n_test"] == 10
    assert len(captured.err.strip().splitlines()) == 1 and "'a'" in captured.err and "'0'" in captured.err


def test_a_tie_on_validation_accuracy_is_broken_by_validation_loss_never_test():
    from bakeoff.store.leaderboard import build_leaderboard

    def run(model, val_loss, test_acc):
        cfg = {"model": model, "optimizer": "adam", "lr": 1e-3, "augment": False, "seed": 0}
        return cfg, {"status": "finished", "seed": 0, "val_acc": 0.9, "val_loss": val_loss, "test_acc": test_acc,
                     "params": 1, "mflops": 1.0}

    rows = build_leaderboard([run("a", 0.40, 0.99), run("b", 0.30, 0.50), run("c", 0.30, 0.70)])
    assert [r["model"] for r in rows] == ["b", "c", "a"]  # lower val loss first; equal loss: by name


def test_a_model_that_predicts_one_class_for_every_test_image_is_called_out(tmp_path, capsys):
    """Every image the same: no model can tell the classes apart, so each predicts one class for all of them;
    the terminal and the report's summary say so (the leaderboard's order is untouched)."""
    import numpy as np

    from bakeoff.cli import main
    from data_fixtures import write_npz

    x = np.full((60, 8, 8), 128, dtype=np.uint8)
    y = np.arange(60) % 3
    data = write_npz(tmp_path / "same.npz", x[:45], y[:45], x[45:], y[45:])
    out = tmp_path / "out"
    assert main(["compare", "--dataset", f"arrays:{data}", "--models", "mlp", "--epochs", "1", "--no-robustness",
                 "--out", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "warning: mlp_adam_lr0.001_noaug predicted one class for every test image" in said
    metrics = json.loads(next(out.glob("*/metrics.json")).read_text())
    assert metrics["test_classes_predicted"] == 1
    assert "predicted one class for every test image" in (out / "report.md").read_text()


def test_a_model_too_large_for_this_machine_at_the_image_size_is_refused_before_training(tmp_path, capsys):
    """simple-cnn's dense layer grows with the image: 155 billion weights at 224 px. One line, exit 2, no run."""
    from bakeoff.cli import main
    from bakeoff.config import RunConfig
    from bakeoff.errors import ConfigError
    from bakeoff.models.options import check_memory

    out = tmp_path / "out"
    assert main(["compare", "--models", "mlp,simple-cnn", "--img-size", "224", "--epochs", "1", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the dataset's line
    assert error.startswith("bakeoff: error: simple-cnn at 224 px has 155,")
    assert not list(out.glob("*/metrics.json"))
    check_memory([RunConfig(model="mlp")], 1, 8, 10, total_bytes=2**30)  # 1 GB: the digits mlp fits
    with pytest.raises(ConfigError, match="mlp at 8 px has"):
        check_memory([RunConfig(model="mlp")], 1, 8, 10, total_bytes=2**10)

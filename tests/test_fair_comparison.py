"""A comparison that cannot be gamed: K-fold validation, equal time budgets, the record of what ran, and a warning
when validation is too small to separate the best two."""
import json

import pytest
import torch

from bakeoff.cli import main
from bakeoff.data.splits import kfold_indices, train_val_split
from bakeoff.engine import budget, epoch, loop
from bakeoff.store.leaderboard import validation_resolution

FAST = ["--quiet", "--no-robustness"]


def test_k_folds_are_stratified_and_every_image_validates_once():
    labels = torch.arange(60) % 3
    vals = [kfold_indices(labels, 4, k, seed=1)[1] for k in range(4)]
    assert sorted(torch.cat(vals).tolist()) == list(range(60))  # a partition of the training data
    for k, val in enumerate(vals):
        train, _ = kfold_indices(labels, 4, k, seed=1)
        assert set(train.tolist()).isdisjoint(val.tolist())
        assert torch.bincount(labels[val], minlength=3).tolist() in ([5, 5, 5], [4, 4, 4], [4, 5, 5], [5, 4, 4],
                                                                      [5, 5, 4], [4, 4, 5], [4, 5, 4], [5, 4, 5])
    with_subset = train_val_split(torch.arange(300) % 3, 0.1, 0, train_subset=60, folds=3, fold=0)
    assert len(with_subset[0]) + len(with_subset[1]) == 60  # the folds cut the subset, not the whole set


def test_folds_make_one_run_per_fold_and_the_leaderboard_averages_them(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--folds", "3", "--out", str(out), "--quiet",
                 "--no-robustness"]) == 0
    runs = sorted(p.name for p in out.glob("mlp_*"))
    assert runs == [f"mlp_adam_lr0.001_noaug_seed0_fold{k}of3" for k in range(3)]
    n_val = {json.loads((out / r / "metrics.json").read_text())["n_val"] for r in runs}
    assert sum(json.loads((out / r / "metrics.json").read_text())["n_val"] for r in runs) == 1437  # digits' train
    assert len(n_val) <= 2
    board = (out / "leaderboard.csv").read_text()
    assert "0/fold0;0/fold1;0/fold2" in board


def test_too_few_folds_for_a_class_is_one_line(tmp_path, capsys):
    assert main(["compare", "--models", "mlp", "--folds", "500", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "--folds" in capsys.readouterr().err


def test_a_time_budget_sizes_the_schedule_to_the_epochs_that_fit(tmp_path, monkeypatch):
    # digits: 1,295 training images, 11 steps of 64 an epoch (batch 128: 11); 25 steps = 2 epochs and 3 steps
    planned = budget.BudgetPlan(seconds=100.0, epochs=3, steps=25, epoch_seconds=1.0, probe_seconds=0.0)
    monkeypatch.setattr(loop, "plan_epochs", lambda *a, **k: planned)  # the clock is not what is tested here
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "mlp", "--time-budget", "100s", "--schedule", "onecycle", "--epochs", "40",
                 "--out", str(out), "--quiet", "--no-robustness"]) == 0
    metrics = json.loads((out / "mlp_adam_lr0.001_noaug_seed0" / "metrics.json").read_text())
    assert metrics["time_budget_s"] == 100.0 and metrics["budget_epochs"] == 3 and metrics["epochs_run"] == 3
    lrs = [float(line.split(",")[5]) for line in (out / "mlp_adam_lr0.001_noaug_seed0" / "history.csv")
           .read_text().splitlines()[1:]]
    assert lrs[0] < lrs[1]  # one-cycle warms up over the 3 planned epochs, not the 40 asked for
    # and ends on the 25th step: a third epoch run whole would step one-cycle past its end, which raises
    assert "time 100 s" in (out / "leaderboard.csv").read_text()


def test_a_run_that_falls_behind_its_budget_stops_on_time():
    plan = budget.BudgetPlan(seconds=10.0, epochs=20, steps=200, epoch_seconds=0.5, probe_seconds=1.0)
    assert not loop._over_budget(plan, [{"seconds": 2.0}] * 3)  # 1 + 6 + 2 fits in 10 (and 5% more)
    assert loop._over_budget(plan, [{"seconds": 2.0}] * 4)  # 1 + 8 + 2 would not
    assert not loop._over_budget(plan, [{"seconds": 2.0}] * 4, share=0.5)  # 1 + 8 + 1: a half epoch fits


def test_a_budget_is_planned_in_steps_with_a_partial_last_epoch(monkeypatch):
    from bakeoff.config import RunConfig
    from bakeoff.engine.epoch import Split
    from bakeoff.engine.objectives import Classification

    monkeypatch.setattr(budget.time, "perf_counter", lambda: 0.0)  # the probe itself costs nothing here
    times = {"train": 0.1, "eval": 0.05}  # seconds per training step, per validation pass of 1,000 images

    def fake_run_epoch(model, split, batch_size, **kw):
        return epoch.EpochResult(0.0, 0.0, times["train"] * -(-len(split) // batch_size))

    def fake_evaluate(model, split, device, precision, **kw):
        return epoch.EpochResult(0.0, 0.0, times["eval"] * len(split) / 1000)

    monkeypatch.setattr(budget, "run_epoch", fake_run_epoch)
    monkeypatch.setattr(budget, "evaluate", fake_evaluate)
    train = Split(torch.zeros(1000, 1, 2, 2), torch.zeros(1000, dtype=torch.long))  # 10 steps of 100
    val = Split(torch.zeros(1000, 1, 2, 2), torch.zeros(1000, dtype=torch.long))
    cfg = RunConfig(model="mlp", batch_size=100)
    plan = budget.plan_epochs(torch.nn.Linear(4, 2), train, val, cfg, "cpu", "fp32", Classification(), 3.62)
    # an epoch: 10 x 0.1 + 0.05 = 1.05 s; 3 whole = 3.15 s; 0.47 s left less a validation pass: 4 steps more
    assert (plan.steps, plan.epochs) == (34, 4)


@pytest.mark.parametrize("value", ["0", "-5s", "abc", "2 weeks", "nan"])
def test_bad_budgets_are_one_line(value, tmp_path, capsys):
    assert main(["compare", "--models", "mlp", f"--time-budget={value}", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "time-budget" in err and len(err.splitlines()) == 1


def test_every_comparison_records_how_it_was_run(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--out", str(out), "--quiet", "--no-robustness"]) == 0
    record = json.loads((out / "grid.json").read_text())["record"]
    assert "--models mlp" in record["command"] and record["cpu"] and record["cpu_count"] >= 1
    assert len(record["load_average_1_5_15_min"]) == 3
    assert "bakeoff compare --models mlp --epochs 1 --out" in (out / "report.md").read_text()


def test_a_validation_split_too_small_to_separate_the_best_two_is_said():
    rows = [{"model": "a", "val_acc": 0.90, "n_val": 50, "n_seeds": 1},
            {"model": "b", "val_acc": 0.88, "n_val": 50, "n_seeds": 1}]
    warning = validation_resolution(rows)
    assert "one image = 2.00 points" in warning and "cannot separate" in warning
    rows[0]["n_val"] = rows[1]["n_val"] = 100_000
    assert validation_resolution(rows) is None  # 2 points apart on 100,000 images is a real difference


def test_the_warning_names_two_rows_of_one_model_by_what_differs():
    rows = [{"model": "autoencoder", "optimizer": "rmsprop", "lr": 1e-4, "val_acc": 0.90, "n_val": 50, "n_seeds": 1},
            {"model": "autoencoder", "optimizer": "adam", "lr": 1e-3, "val_acc": 0.89, "n_val": 50, "n_seeds": 1}]
    assert "(autoencoder rmsprop lr 0.0001 and autoencoder adam lr 0.001:" in validation_resolution(rows)


def test_several_datasets_make_one_comparison_each_and_a_report_across_them(tmp_path):
    from data_fixtures import tiny_images, write_npz

    names = []
    for seed in (1, 2):
        x, y = tiny_images(300, size=8, seed=seed, num_classes=3)
        names.append(f"arrays:{write_npz(tmp_path / f'set{seed}.npz', x[:240], y[:240], x[240:], y[240:])}")
    out = tmp_path / "across"
    assert main(["compare", "--dataset", ",".join(["digits", *names]), "--models", "mlp,simple-cnn,cnn4",
                 "--epochs", "1", "--out", str(out), *FAST]) == 0
    folders = sorted(p.name for p in out.iterdir() if (p / "grid.json").is_file())
    assert len(folders) == 3 and "digits" in folders
    report = (out / "report.md").read_text()
    assert "Friedman" in report and "digits" in report


def test_tune_gives_every_model_the_same_trials_then_trains_the_best_over_the_seeds(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--tune", "3", "--seeds", "0,1", "--out", str(out),
                 *FAST]) == 0
    trials = json.loads(next((out / "tuning").glob("mlp-*.json")).read_text())
    assert len(trials["trials"]) == 3
    runs = sorted(p for p in out.glob("mlp_*") if (p / "metrics.json").is_file())
    assert len(runs) == 2  # both seeds, with the same tuned values
    lrs = {json.loads((r / "config.json").read_text())["lr"] for r in runs}
    assert len(lrs) == 1
    assert "tune 3 + 1 epochs" in (out / "leaderboard.csv").read_text()
    assert main(["report", str(out)]) == 0  # grid.json lists the tuned runs, so the report finds them


@pytest.mark.parametrize("flags, words", [(["--tune", "0"], "--tune"), (["--tune", "-1"], "--tune"),
                                          (["--tune", "2", "--lrs", "1e-3,1e-2"], "one value")])
def test_bad_tuning_requests_are_one_line(flags, words, tmp_path, capsys):
    assert main(["compare", "--models", "mlp", *flags, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1

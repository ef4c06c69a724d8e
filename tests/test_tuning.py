"""`--tune N` (runs/tuning.py): ranges, the trials file and its reuse, the test split left alone, pruning, seeding."""
import json

import pytest

from bakeoff.runs import tuning
from bakeoff.config import RunConfig
from bakeoff.data import load_dataset
from bakeoff.data.dataset import Dataset
from bakeoff.engine.epoch import Diverged
from bakeoff.engine.loop import FitResult
from bakeoff.errors import ConfigError
from bakeoff.runs.runner import PreparedData, execute_run, train_for_validation
from bakeoff.runs.tuning import LR_RANGES, WD_RANGE_L2, search_space, tune

quiet = lambda *a, **k: None  # noqa: E731  (tune's console_print)


@pytest.fixture(scope="module")
def digits():
    return PreparedData.from_dataset(load_dataset("digits"))


def small(**kw) -> RunConfig:
    return RunConfig(**{"model": "mlp", "epochs": 2, "device": "cpu", **kw})


class Untouchable:
    """Stands in for the test split: any use at all fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the test split was touched (.{name})")

    def __getitem__(self, key):
        raise AssertionError("the test split was indexed")

    def __len__(self):
        raise AssertionError("the test split was measured")


def without_test_split(data: PreparedData) -> PreparedData:
    ds = data.dataset
    blind = Dataset(ds.name, ds.classes, ds.x_train, ds.y_train, Untouchable(), Untouchable())
    return PreparedData(blind, data.x_train, Untouchable(), data.mean, data.std)


def fake_trainer(accs_per_trial: list[list[float]], calls: list):
    """Stands in for runner.train_for_validation: trial k reports accs_per_trial[k], epoch by epoch."""

    def train(cfg, data, on_epoch=None, quiet=True):
        accs = accs_per_trial[len(calls)]
        calls.append({"cfg": cfg, "epochs": 0})
        history = []
        for epoch, acc in enumerate(accs, 1):
            history.append({"epoch": epoch, "val_acc": acc, "val_loss": 1 - acc, "stage": ""})
            calls[-1]["epochs"] = epoch
            on_epoch(history)
        return FitResult(history, len(history), False, 1.0, 0)

    return train


def test_trials_are_in_range_written_and_the_best_is_chosen_on_validation(digits, tmp_path):
    result = tune(small(), digits, 4, tmp_path, console_print=quiet)
    lo, hi = LR_RANGES["adam"]
    assert lo <= result.overrides["lr"] <= hi
    wd = result.overrides["weight_decay"]
    assert wd == 0 or WD_RANGE_L2[0] <= wd <= WD_RANGE_L2[1]
    stored = json.loads(result.path.read_text())
    assert result.path.parent == tmp_path / "tuning" and len(stored["trials"]) == 4 and result.new_trials == 4
    assert {t["state"] for t in stored["trials"]} <= {"complete", "pruned", "failed"}
    assert stored["trials"][0]["overrides"] == {"lr": 1e-3, "weight_decay": 0.0}  # trial 0: the config as given
    complete = [t for t in stored["trials"] if t["state"] == "complete"]
    assert result.best_val_acc == max(t["val_acc"] for t in complete)
    assert result.apply(small()).lr == result.overrides["lr"]
    for t in stored["trials"]:
        assert t["seconds"] > 0 and all(0 <= acc <= 1 for _, acc in t["val_acc_by_epoch"])


def test_a_rerun_reuses_the_stored_trials(digits, tmp_path, monkeypatch):
    first = tune(small(), digits, 3, tmp_path, console_print=quiet)

    def must_not_train(*a, **k):
        raise AssertionError("a rerun with the same settings trained again")

    monkeypatch.setattr(tuning, "train_for_validation", must_not_train)
    again = tune(small(), digits, 3, tmp_path, console_print=quiet)
    assert again.new_trials == 0 and again.overrides == first.overrides and again.trials == first.trials
    fewer = tune(small(), digits, 2, tmp_path, console_print=quiet)  # the first trials of the stored ones
    assert fewer.new_trials == 0 and fewer.trials == first.trials[:2]
    with pytest.raises(AssertionError, match="trained again"):  # other settings: another file, new trials
        tune(small(epochs=1), digits, 3, tmp_path, console_print=quiet)


def test_more_trials_continue_the_stored_ones(digits, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tuning, "train_for_validation", fake_trainer([[0.5], [0.6], [0.7], [0.8]], calls))
    first = tune(small(epochs=1), digits, 2, tmp_path, console_print=quiet)
    more = tune(small(epochs=1), digits, 4, tmp_path, console_print=quiet)
    assert len(calls) == 4 and more.new_trials == 2 and more.trials[:2] == first.trials
    assert [t["number"] for t in more.trials] == [0, 1, 2, 3] and more.best_trial == 3


def test_tuning_never_touches_the_test_split(digits, tmp_path):
    blind = without_test_split(digits)
    result = tune(small(epochs=1), blind, 3, tmp_path, console_print=quiet)
    assert result.best_val_acc > 0.5
    with pytest.raises(AssertionError, match="test split"):  # the stand-in does catch a run that scores the test split
        execute_run(small(epochs=1), blind, tmp_path / "run", quiet=True)


def test_median_pruner_stops_a_clearly_worse_trial(digits, tmp_path, monkeypatch):
    calls = []
    good, bad = [0.9, 0.92, 0.93], [0.1, 0.1, 0.1]
    monkeypatch.setattr(tuning, "train_for_validation", fake_trainer([good, good, good, bad], calls))
    result = tune(small(epochs=3), digits, 4, tmp_path, console_print=quiet)
    assert [t["state"] for t in result.trials] == ["complete", "complete", "complete", "pruned"]
    assert calls[3]["epochs"] == 1  # stopped after its first epoch, not trained to the end
    assert result.trials[3]["val_acc_by_epoch"] == [[1, 0.1]] and result.best_trial == 0


def test_a_pruning_hook_stops_real_training(digits):
    seen = []

    class Stop(Exception):
        pass

    def on_epoch(history):
        seen.append(len(history))
        raise Stop

    with pytest.raises(Stop):
        train_for_validation(small(epochs=3), digits, on_epoch=on_epoch)
    assert seen == [1]


def test_a_diverged_trial_is_recorded_as_failed(digits, tmp_path, monkeypatch):
    calls = []
    trainer = fake_trainer([[0.8], [0.9], [0.7], [0.95]], calls)

    def sometimes_diverges(cfg, data, on_epoch=None, quiet=True):
        if len(calls) == 1:
            calls.append({"epochs": 0})
            raise Diverged("training loss became nan")
        return trainer(cfg, data, on_epoch, quiet)

    monkeypatch.setattr(tuning, "train_for_validation", sometimes_diverges)
    result = tune(small(epochs=1), digits, 3, tmp_path, console_print=quiet)
    assert [t["state"] for t in result.trials] == ["complete", "failed", "complete"]
    assert "nan" in result.trials[1]["reason"]
    more = tune(small(epochs=1), digits, 4, tmp_path, console_print=quiet)  # the failed trial replays too
    assert [t["state"] for t in more.trials] == ["complete", "failed", "complete", "complete"] and more.best_trial == 3


def test_the_same_seed_samples_the_same_params(digits, tmp_path, monkeypatch):
    def sampled(seed: int, folder: str) -> list[dict]:
        calls = []
        accs = [[a] for a in (0.5, 0.6, 0.55, 0.7, 0.65, 0.8, 0.75, 0.6)]  # past TPE's 4 random startup trials
        monkeypatch.setattr(tuning, "train_for_validation", fake_trainer(accs, calls))
        tune(small(epochs=1, seed=seed), digits, len(accs), tmp_path / folder, console_print=quiet)
        return [(c["cfg"].lr, c["cfg"].weight_decay) for c in calls]

    a, b, other = sampled(0, "a"), sampled(0, "b"), sampled(1, "c")
    assert a == b
    assert a[1:] != other[1:]  # trial 0 is the config as given under every seed; the rest follow the seed


def test_the_search_space_follows_optimizer_and_model(digits):
    assert set(search_space(small(), digits)) == {"lr", "weight_decay_on", "weight_decay"}
    assert search_space(small(optimizer="sgd"), digits)["lr"][1:3] == LR_RANGES["sgd"]
    space = search_space(small(model="autoencoder"), digits)
    assert space["latent_dim"][0] == "int" and 0.0 in space["denoise"][1]  # a plain autoencoder stays reachable
    for spec in space.values():
        assert spec[0] == "categorical" or spec[1] < spec[2]


def test_bad_budgets_and_no_validation_split_are_refused(digits, tmp_path):
    with pytest.raises(ConfigError, match="at least 1"):
        tune(small(), digits, 0, tmp_path)
    with pytest.raises(ConfigError, match="val-fraction"):
        tune(small(val_fraction=0.0), digits, 2, tmp_path)

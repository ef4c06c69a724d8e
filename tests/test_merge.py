"""`bakeoff merge`: comparisons of the same data and split become one leaderboard and one report."""
import csv
import json

import pytest

from bakeoff.cli import main

FAST = ["--quiet", "--no-robustness"]


@pytest.fixture(scope="module")
def two_comparisons(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--out", str(root / "a"), *FAST]) == 0
    assert main(["compare", "--models", "mlp,simple-cnn", "--epochs", "2", "--out", str(root / "b"), *FAST]) == 0
    return root


def test_two_epoch_counts_land_in_one_leaderboard(two_comparisons):
    root = two_comparisons
    assert main(["merge", str(root / "a"), str(root / "b"), "--out", str(root / "all")]) == 0
    with open(root / "all" / "leaderboard.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["model"], r["epochs"]) for r in rows) == [("mlp", "1"), ("mlp", "2"), ("simple-cnn", "2")]
    assert (root / "all" / "mlp_adam_lr0.001_noaug_seed0_ep1" / "best.pt").is_file()
    assert json.loads((root / "a" / "mlp_adam_lr0.001_noaug_seed0" / "config.json").read_text())["name_axes"] == []
    report = (root / "all" / "report.md").read_text()
    assert "epochs 1" in report and "epochs 2" in report and "Is the best model really better?" in report
    assert main(["report", str(root / "all")]) == 0  # the merged folder is a comparison like any other


def test_comparisons_of_other_data_or_splits_are_refused(two_comparisons, tmp_path, capsys):
    root = two_comparisons
    other = tmp_path / "other"
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--val-fraction", "0.2", "--out", str(other),
                 *FAST]) == 0
    capsys.readouterr()
    assert main(["merge", str(root / "a"), str(other), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert "val_fraction" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("case", ["one", "same-twice", "into-source", "not-a-comparison"])
def test_bad_merges_are_one_line(case, two_comparisons, tmp_path, capsys):
    a, b = str(two_comparisons / "a"), str(two_comparisons / "b")
    args = {"one": [a, "--out", str(tmp_path / "m")], "same-twice": [a, a, "--out", str(tmp_path / "m")],
            "into-source": [a, b, "--out", a], "not-a-comparison": [a, str(tmp_path), "--out", str(tmp_path / "m")]}
    assert main(["merge", *args[case]]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_run_folders_copied_in_by_hand_are_named_not_silently_dropped(two_comparisons, tmp_path):
    import shutil

    target = tmp_path / "a"
    shutil.copytree(two_comparisons / "a", target)
    shutil.copytree(two_comparisons / "b" / "simple-cnn_adam_lr0.001_noaug_seed0", target / "copied-run")
    assert main(["report", str(target)]) == 0
    report = (target / "report.md").read_text()
    assert "copied-run" in report and "bakeoff merge" in report

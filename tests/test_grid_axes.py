"""Every run option is a grid axis: values read as users mean them, run ids that never collide, duplicates refused."""
import csv

import pytest

from bakeoff.cli import main
from bakeoff.config import GridConfig, RunConfig
from bakeoff.config.gridfile import load_grid_file
from bakeoff.errors import ConfigError
from bakeoff.models.options import grid_runs


def test_a_swept_option_is_in_the_run_id_and_gets_a_leaderboard_column(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "mlp", "--epochs", "1,2", "--batch-size", "64", "--out", str(out),
                 "--quiet"]) == 0
    assert (out / "mlp_adam_lr0.001_noaug_seed0_ep1").is_dir() and (out / "mlp_adam_lr0.001_noaug_seed0_ep2").is_dir()
    with open(out / "leaderboard.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["epochs"] for r in rows) == ["1", "2"]  # one row per epoch count, in one leaderboard
    assert "batch_size" not in rows[0]  # one value: not an axis, not a column, not in the name
    assert "epochs 1" in (out / "report.md").read_text()  # the report names rows by what varies


def test_distinct_learning_rates_never_share_a_run_folder():
    ids = {RunConfig(model="mlp", lr=lr).run_id for lr in (0.001, 0.0010000001, 1e-3 + 1e-12)}
    assert len(ids) == 3
    assert RunConfig(model="mlp", lr=1e-3).run_id == "mlp_adam_lr0.001_noaug_seed0"  # common values read as before


@pytest.mark.parametrize("flags", [["--models", "mlp,mlp"], ["--seeds", "0,0"], ["--lrs", "0.001,1e-3"],
                                   ["--epochs", "2,2"]])
def test_duplicate_grid_points_are_refused_in_one_line(flags, tmp_path, capsys):
    assert main(["compare", *flags, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "twice" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_a_mixed_line_up_sweeps_pretrained_only_for_models_with_weights():
    grid = GridConfig.from_options({"models": "mlp,efficientnet-lite0", "pretrained": "none,imagenet",
                                    "freeze": "none,backbone"})
    ids = [cfg.run_id for cfg in grid_runs(grid)]
    assert sum(i.startswith("mlp_") for i in ids) == 1  # from scratch once, not four times
    assert sum(i.startswith("efficientnet-lite0_") for i in ids) == 3  # scratch, head only, fine-tuned
    assert len(set(ids)) == len(ids)


def test_grid_file_values_are_read_as_users_mean_them(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("models: [mlp]\nweight_decay: 5e-4\nbatch_size: 1e2\nepochs: [1, 2]\nseeds: 3\n")
    grid = GridConfig.from_options(load_grid_file(path))
    runs = grid_runs(grid)
    assert {r.weight_decay for r in runs} == {5e-4} and {r.batch_size for r in runs} == {100}
    assert [r.epochs for r in runs] == [1, 2] and {r.seed for r in runs} == {3}


@pytest.mark.parametrize("text, words", [
    ("epochs: 1.5\n", "whole number"),
    ("seeds: [1.5]\n", "whole number"),
    ("epochs: null\n", "value is needed"),
    ("epochs: {a: 1}\n", "not a mapping"),
    ("epochs: [[1, 2]]\n", "nested"),
    ("lrs: [nan]\n", "finite"),
    ("val_fraction: [0.1, 0.2]\n", "one value"),
    ("train_subset: [100, 200]\n", "one value"),  # a list of datasets is valid: a comparison per dataset
    ("bogus: 1\n", "unknown"),
    ("seeds: [-1]\n", "0.."),
    ("momentum: 1.5\n", "momentum"),
    ("a: &a [1, 1]\nb: &b [*a, *a]\nc: &c [*b, *b]\nepochs: *c\n", "aliases"),  # billion laughs, in small
])
def test_bad_grid_files_get_one_line_and_exit_2(text, words, tmp_path, capsys):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    assert main(["compare", "-c", str(path), "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1, err


def test_a_config_of_the_wrong_types_is_refused():
    with pytest.raises(ConfigError, match="epochs"):
        RunConfig(model="mlp", epochs="3")
    with pytest.raises(ConfigError, match="mapping"):
        RunConfig.from_dict(["mlp"])

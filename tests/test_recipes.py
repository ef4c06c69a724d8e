"""`--recipe fast`: a preset that flags and grid files override, and test-time flip augmentation."""
import pytest
import torch

from bakeoff.cli import build_parser
from bakeoff.commands.configs import grid_from_args
from bakeoff.config import RunConfig
from bakeoff.data import load_dataset
from bakeoff.engine.epoch import Split, evaluate, uses_tta
from bakeoff.models import create_model
from bakeoff.runs.runner import PreparedData, execute_run
from bakeoff.models.options import grid_runs


def runs_for(*argv):
    args = build_parser().parse_args(["compare", *argv])
    grid, _ = grid_from_args(args)
    return grid_runs(grid)


def test_the_recipe_sets_model_and_training_options_per_dataset():
    (run,) = runs_for("--recipe", "fast", "--dataset", "fashion-mnist")
    assert (run.model, run.optimizer, run.schedule, run.recipe) == ("fast-net-s", "sgd", "onecycle", "fast")
    assert run.nesterov and run.tta and run.epochs == 4 and run.batch_size == 512
    (cifar,) = runs_for("--recipe", "fast", "--dataset", "cifar10")
    assert cifar.model == "fast-net" and cifar.augment
    assert run.run_id.endswith("_fast")  # apart from a plain run of the same model, optimizer and lr


def test_flags_and_grid_files_override_the_recipe(tmp_path):
    runs = runs_for("--recipe", "fast", "--dataset", "fashion-mnist", "--epochs", "2", "--models", "cnn4,mlp",
                    "--lrs", "0.1")
    assert [(r.model, r.epochs, r.lr, r.optimizer) for r in runs] == [("cnn4", 2, 0.1, "sgd"), ("mlp", 2, 0.1, "sgd")]
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("recipe: fast\ndataset: mnist\nbatch_size: 64\n")
    (run,) = runs_for("-c", str(grid_file))
    assert (run.recipe, run.batch_size, run.model) == ("fast", 64, "fast-net-xs")


def test_without_a_recipe_nothing_changes():
    plain = runs_for("--models", "mlp")[0]
    assert plain.to_dict() == RunConfig(model="mlp").to_dict()


def test_tta_averages_the_logits_of_the_image_and_its_mirror():
    torch.manual_seed(0)
    model = create_model("fast-net-s", num_classes=3, in_chans=1, img_size=8).eval()
    split = Split(torch.randn(5, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1]))
    cpu = torch.device("cpu")
    got = evaluate(model, split, cpu, "fp32", collect=True, tta=True).logits
    with torch.no_grad():
        expected = (model(split.x) + model(split.x.flip(3))) / 2
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got, evaluate(model, split, cpu, "fp32", collect=True).logits)


def test_tta_is_left_out_where_mirror_images_are_not_samples_of_the_data():
    assert uses_tta(True, "fashion-mnist") and not uses_tta(False, "fashion-mnist")
    assert not uses_tta(True, "mnist") and not uses_tta(True, "digits")


def test_the_fast_recipe_trains_digits_well(tmp_path):
    (cfg,) = runs_for("--recipe", "fast")
    m = execute_run(cfg, PreparedData.from_dataset(load_dataset("digits")), tmp_path, quiet=True)
    assert m["test_acc"] > 0.9


def test_evaluate_scores_a_tta_run_as_training_scored_it(tmp_path, capsys):
    import json

    import numpy as np

    from bakeoff.cli import main
    from data_fixtures import tiny_images

    x, y = tiny_images(120, size=12)
    data = tmp_path / "tiny.npz"
    np.savez(data, x_train=x[:80], y_train=y[:80], x_test=x[80:], y_test=y[80:])
    out = tmp_path / "t"
    # 20 epochs at lr 0.1: the recipe's 8 at lr 0.4 learned nothing on an Intel Xeon host (test accuracy 0.3)
    args = ["train", "--dataset", f"arrays:{data}", "--recipe", "fast", "--epochs", "20", "--lr", "0.1",
            "--batch-size", "16", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    (run,) = [p.parent for p in out.glob("*/metrics.json")]
    metrics = json.loads((run / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(run), "--dataset", f"arrays:{data}", "--json"]) == 0
    assert metrics["test_acc"] > 0.5  # a model that has learned something, so the mirror image changes its logits
    assert json.loads(capsys.readouterr().out)["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-5)

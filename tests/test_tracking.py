"""--track: every run logged to a real MLflow store (sqlite, read back through MLflow) and to TensorBoard files."""
import json

import pytest

import bakeoff
from bakeoff.cli import main
from bakeoff.tracking import tracking_targets

mlflow = pytest.importorskip("mlflow", reason="the [track] extra: pip install -e '.[track]'")
pytest.importorskip("tensorboard", reason="the [track] extra: pip install -e '.[track]'")

MODELS = ["mlp", "simple-cnn"]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    out = tmp_path_factory.mktemp("track") / "cmp"
    bakeoff.compare(dataset="digits", models=MODELS, epochs=2, out=out, robustness=False, quiet=True,
                    track=["mlflow", "tensorboard"])
    return out


def _runs(out):
    """The children runs (one per training run) and the comparison's parent run, via mlflow.search_runs."""
    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    try:
        found = mlflow.search_runs(experiment_names=["bakeoff/cmp"], output_format="list")
    finally:
        mlflow.set_tracking_uri(None)
    children = {r.data.tags["bakeoff.run_id"]: r for r in found if "bakeoff.run_id" in r.data.tags}
    parents = [r for r in found if r.data.tags.get("bakeoff.kind") == "comparison"]
    return children, parents


def test_every_run_is_logged_with_params_metrics_and_files(tracked):
    children, parents = _runs(tracked)
    assert sorted(children) == sorted(f"{m}_adam_lr0.001_noaug_seed0" for m in MODELS)
    (parent,) = parents
    client = mlflow.tracking.MlflowClient(f"sqlite:///{tracked / 'mlflow.db'}")
    for run_id, run in children.items():
        metrics = json.loads((tracked / run_id / "metrics.json").read_text())
        config = json.loads((tracked / run_id / "config.json").read_text())
        assert run.data.params["model"] == config["model"] and run.data.params["epochs"] == "2"
        assert run.data.metrics["test_acc"] == pytest.approx(metrics["test_acc"])
        assert run.data.metrics["best_val_acc"] == pytest.approx(metrics["val_acc"])
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert [m.step for m in history] == [1, 2]  # per epoch
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"best.pt", "config.json", "metrics.json", "history.csv"} <= files
    assert {"leaderboard.csv", "report.html"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}


def test_logging_again_adds_no_duplicates(tracked):
    before, _ = _runs(tracked)
    bakeoff.compare(dataset="digits", models=MODELS, epochs=2, out=tracked, robustness=False, quiet=True,
                    track="mlflow")
    after, parents = _runs(tracked)
    assert len(parents) == 1
    assert {k: r.info.run_id for k, r in after.items()} == {k: r.info.run_id for k, r in before.items()}


def test_tensorboard_event_files_hold_the_curves(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for model in MODELS:
        events = EventAccumulator(str(tracked / "tensorboard" / f"{model}_adam_lr0.001_noaug_seed0")).Reload()
        assert [e.step for e in events.Scalars("loss/val")] == [1, 2]
        assert {"loss/train", "acc/train", "acc/val", "lr"} <= set(events.Tags()["scalars"])


def test_tracker_names_are_checked_before_training(tmp_path, capsys):
    assert tracking_targets("mlflow,tensorboard") == ["mlflow", "tensorboard"]
    assert tracking_targets(None, mlflow_uri="sqlite:///x.db") == ["mlflow"]
    assert main(["compare", "--models", "mlp", "--track", "wandb", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == \
        "bakeoff: error: unknown tracker 'wandb'; choose from: mlflow, tensorboard"
    assert not (tmp_path / "x").exists()


def test_mlflow_and_tensorboard_flags_log_to_the_store_beside_the_comparison(tmp_path, capsys):
    """`--mlflow` without a URI: sqlite:///OUT/mlflow.db, read back through MLflow; `--tensorboard`: OUT/tensorboard."""
    out = tmp_path / "flags"
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--no-robustness", "--quiet", "--mlflow",
                 "--tensorboard", "--out", str(out)]) == 0
    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    try:
        found = mlflow.search_runs(experiment_names=["bakeoff/flags"], output_format="list")
    finally:
        mlflow.set_tracking_uri(None)
    assert [r.data.tags["bakeoff.run_id"] for r in found if "bakeoff.run_id" in r.data.tags] == \
        ["mlp_adam_lr0.001_noaug_seed0"]
    assert (out / "tensorboard" / "mlp_adam_lr0.001_noaug_seed0").is_dir()


@pytest.mark.parametrize("argv, error", [
    (["--mlflow", "sqlite:///a.db", "--mlflow-uri", "sqlite:///b.db"],
     "--mlflow sqlite:///a.db and --mlflow-uri sqlite:///b.db name two tracking URIs; give one"),
    (["--mlflow-uri", ""], "--mlflow-uri needs a tracking URI, e.g. sqlite:///mlflow.db or http://host:5000 "
                           "(--mlflow alone logs to sqlite:///OUT/mlflow.db)"),
])
def test_mlflow_flags_that_disagree_are_one_line(tmp_path, capsys, argv, error):
    assert main(["compare", "--models", "mlp", *argv, "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == f"bakeoff: error: {error}"
    assert not (tmp_path / "x").exists()


def test_the_flag_spellings_are_one_set_of_trackers():
    from bakeoff.cli import build_parser
    from bakeoff.commands.training import tracking_flags

    def parsed(*argv):
        return tracking_flags(build_parser().parse_args(["compare", *argv]))

    assert parsed() == ([], None)
    assert parsed("--mlflow", "--models", "mlp") == (["mlflow"], None)  # no URI: sqlite:///OUT/mlflow.db
    assert parsed("--mlflow", "http://host:5000", "--tensorboard") == (["mlflow", "tensorboard"], "http://host:5000")
    assert parsed("--track", "mlflow,tensorboard", "--mlflow-uri", "sqlite:///x.db") == \
        (["mlflow", "tensorboard"], "sqlite:///x.db")
    assert parsed("--track", "tensorboard", "--mlflow=sqlite:///y.db", "--tensorboard") == \
        (["tensorboard", "mlflow"], "sqlite:///y.db")

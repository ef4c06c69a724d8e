"""--train-photos: labelled real photos, converted as `predict` converts a photo, join the training split; a
fifth of them is held out and scored."""
import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from bakeoff.runs.plan import with_photo_class_map
from bakeoff.cli import main
from bakeoff.config import RunConfig
from bakeoff.data import load_dataset
from bakeoff.data.pixels import normalize_images
from bakeoff.data.photos.training import PHOTO_SHARE, repeats
from bakeoff.runs.runner import PreparedData, build_run
from bakeoff.data.photos.preprocess import model_view, open_photo
from serve_fixtures import SHAPES, shape_photo, shapes_npz

PER_CLASS = 5  # one held out per class


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two folders of shape photos, one folder per class: `train` (PER_CLASS each) and `test` (other files)."""
    root = tmp_path_factory.mktemp("photos")
    for split, n in (("train", PER_CLASS), ("test", 2)):
        for kind in SHAPES:
            (root / split / kind).mkdir(parents=True)
            for i in range(n):
                photo = Image.open(io.BytesIO(shape_photo(kind, fmt="PNG", exif_rotate=i == 2)))
                dimmed = photo.point(lambda v, i=i: v * (0.8 + 0.04 * i))  # every photo a little different
                dimmed.save(root / split / kind / f"{split}{i}.{'png' if i % 2 else 'jpg'}", exif=photo.getexif())
    return root


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    return shapes_npz(tmp_path_factory.mktemp("data") / "shapes.npz")


def test_photos_repeat_to_about_an_eighth_of_an_epoch_and_never_less_than_once():
    times = repeats(54_000, 1_946)
    assert abs(times * 1_946 / (54_000 + times * 1_946) - PHOTO_SHARE) < 0.03
    assert repeats(100, 5_000) == 1


def test_the_training_split_holds_the_photos_as_predict_converts_them(npz, photos):
    cfg = RunConfig(dataset=f"arrays:{npz}", model="mlp", train_photos=str(photos / "train"))
    ds = load_dataset(cfg.dataset)
    data = PreparedData.from_dataset(ds)
    run = build_run(cfg, data, torch.device("cpu"))
    n_dataset = len(build_run(RunConfig(dataset=cfg.dataset, model="mlp"), data, torch.device("cpu")).train)
    n_held = len(SHAPES)
    assert len(run.held_out_photos) == n_held and run.photo_counts["n_photos_held_out"] == n_held
    n_trained = len(SHAPES) * PER_CLASS - n_held
    times = run.photo_counts["photo_repeats"]
    assert len(run.train) == n_dataset + times * n_trained
    pre = data.preprocessing()
    files = sorted((photos / "train").rglob("*.*"))
    seen = torch.from_numpy(normalize_images([model_view(open_photo(f), pre) for f in files], pre["mean"], pre["std"]))
    tail = run.train.x[n_dataset:n_dataset + n_trained]
    def which(x):  # the photo file this view is, as predict would see it
        distances = [float((x - s).abs().max()) for s in seen]
        assert min(distances) < 1e-6
        return int(np.argmin(distances))

    trained, held = [which(x) for x in tail], [which(x) for x in run.held_out_photos.x]
    assert sorted(trained + held) == list(range(len(files)))  # every photo once: held-out ones are not trained on
    assert sorted(run.held_out_photos.y.tolist()) == list(range(len(SHAPES)))  # one per class


def test_compare_trains_on_photos_and_scores_the_held_out_fifth(npz, photos, tmp_path):
    out = tmp_path / "out"
    assert main(["compare", "--dataset", f"arrays:{npz}", "--models", "mlp", "--epochs", "2", "--quiet",
                 "--train-photos", str(photos / "train"), "--real-photos", str(photos / "test"),
                 "--out", str(out), "--no-robustness"]) == 0
    run = out / "mlp_adam_lr0.001_noaug_seed0_photos"  # never the same run as one without the photos
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_photos_held_out"] == len(SHAPES) and metrics["n_photos_train"] == len(SHAPES) * (PER_CLASS - 1)
    assert 0 <= metrics["photo_val_acc"] <= 1 and metrics["n_real"] == 2 * len(SHAPES)
    config = json.loads((run / "config.json").read_text())
    assert config["train_photos"] == str(photos / "train") and config["photo_class_map"] is None
    with open(out / "leaderboard.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["photo_val_acc"]) == pytest.approx(metrics["photo_val_acc"])
    assert "photo_val_acc" in (out / "leaderboard.md").read_text()
    assert metrics["n_train"] == 162  # the dataset's own training images: photos are counted apart
    assert "real photos trained on" in (out / "report.md").read_text()


@pytest.mark.parametrize("case", ["not a folder", "scored photos", "unknown class"])
def test_bad_photo_folders_are_refused_in_one_line_before_training(npz, photos, tmp_path, capsys, case):
    out = tmp_path / "out"
    args = ["compare", "--dataset", f"arrays:{npz}", "--models", "mlp", "--epochs", "1", "--quiet", "--out", str(out)]
    extra, named = {
        "not a folder": (["--train-photos", str(tmp_path / "nowhere")], "--train-photos"),
        "scored photos": (["--train-photos", str(photos / "train"), "--real-photos", str(photos / "train")], "share"),
        "unknown class": (["--train-photos", str(photos / "train"), "--class-map", "tall=round"], "'round'"),
    }[case]
    capsys.readouterr()
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err and "Traceback" not in err
    assert not any(out.glob("*/metrics.json")) and not any(out.glob("*/config.json"))


def test_a_class_map_only_joins_the_runs_config_where_it_trains_on_photos():
    only_scored = {"models": "mlp", "class_map": "pants=Trouser"}
    assert with_photo_class_map(only_scored) == only_scored  # a rerun retrains nothing
    assert with_photo_class_map({"train_photos": "p", "class_map": "pants=Trouser"})["photo_class_map"] == "pants=Trouser"

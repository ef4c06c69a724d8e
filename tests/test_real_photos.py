"""--real-photos: every model of a comparison scored on a labelled folder of real photos, as `predict` sees them."""
import csv
import json

import pytest

from bakeoff.cli import main
from bakeoff.errors import ConfigError
from bakeoff.data.photos.folders import map_folders, parse_class_map
from serve_fixtures import SHAPES, shape_photo, shapes_npz, train

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_folder_names_match_classes_loosely_and_by_map():
    mapping, skipped = map_folders(["t-shirt", "DRESS", "ankle_boot", "outwear", "hat", "top"], FASHION,
                                   parse_class_map("outwear=coat"))
    assert mapping == {"t-shirt": 0, "DRESS": 3, "ankle_boot": 9, "outwear": 4, "top": 0}
    assert skipped == ["hat"]


@pytest.mark.parametrize(("text", "named"), [
    ("pants=Jeans", "Jeans"),  # a class the dataset does not have: the valid ones are listed
    ("skirt=Dress", "skirt"),  # a folder the photo folder does not have
    ("pants", "FOLDER=CLASS"),
])
def test_a_bad_class_map_is_one_clear_error(text, named):
    with pytest.raises(ConfigError, match=named) as e:
        map_folders(["pants", "dress"], FASHION, parse_class_map(text))
    if named == "Jeans":
        assert "Trouser" in str(e.value)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """A two-seed comparison trained on 28x28 shapes, and a folder of photos of shapes, one folder per class."""
    root = tmp_path_factory.mktemp("real")
    npz = shapes_npz(root / "shapes.npz")
    out = train(root / "runs", "--dataset", f"arrays:{npz}", "--models", "mlp", "--seeds", "0,1", "--epochs", "15",
                "--batch-size", "32")
    photos = root / "photos"
    for kind in SHAPES:
        (photos / kind.upper()).mkdir(parents=True)  # names match case-insensitively
        (photos / kind.upper() / "a.jpg").write_bytes(shape_photo(kind))
        (photos / kind.upper() / "b.png").write_bytes(shape_photo(kind, fmt="PNG"))
    (photos / "circle").mkdir()
    (photos / "circle" / "c.jpg").write_bytes(shape_photo("square"))  # no such class: skipped, named
    return out, photos


def test_evaluate_scores_finished_runs_as_predict_sees_the_photos(shapes, capsys):
    out, photos = shapes
    capsys.readouterr()
    assert main(["evaluate", str(out), "--real-photos", str(photos), "--json"]) == 0
    captured = capsys.readouterr()
    assert "circle" in captured.err
    scored = {r["run"]: r for r in map(json.loads, captured.out.splitlines())}
    assert len(scored) == 2 and all(r["n_real"] == 6 for r in scored.values())
    for run, result in scored.items():
        capsys.readouterr()
        assert main(["predict", str(out / run), str(photos), "--json"]) == 0
        predicted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        truth = {p["path"]: p["path"].split("/")[-2].lower() for p in predicted if "/circle/" not in p["path"]}
        agree = sum(p["top_k"][0]["label"] == truth[p["path"]] for p in predicted if p["path"] in truth)
        assert result["real_acc"] == pytest.approx(agree / len(truth))
    with open(out / "leaderboard.csv") as f:
        (row,) = list(csv.DictReader(f))
    accs = [r["real_acc"] for r in scored.values()]
    assert float(row["real_acc_mean"]) == pytest.approx(sum(accs) / 2)
    assert "real_acc_mean" in (out / "leaderboard.md").read_text()


def test_compare_scores_real_photos_and_refuses_a_bad_folder_before_training(shapes, tmp_path, capsys):
    out, photos = shapes
    npz = shapes_npz(tmp_path / "shapes.npz")
    args = ["compare", "--dataset", f"arrays:{npz}", "--models", "mlp", "--epochs", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a"), "--real-photos", str(photos)]) == 0
    metrics = json.loads((tmp_path / "a" / "mlp_adam_lr0.001_noaug_seed0" / "metrics.json").read_text())
    assert metrics["n_real"] == 6 and metrics["real_class_map"] == {k.upper(): k for k in SHAPES}
    capsys.readouterr()
    for bad, named in ((tmp_path / "nowhere", "nowhere"), (tmp_path, "no folder")):
        assert main([*args, "--out", str(tmp_path / "b"), "--real-photos", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and named in err
        if named == "nowhere":
            assert not (tmp_path / "b").exists()  # a path that is not there is refused before OUT is made
    assert main([*args, "--out", str(tmp_path / "b"), "--real-photos", str(photos), "--class-map", "TALL=round"]) == 2
    err = capsys.readouterr().err
    assert "'round'" in err and "square" in err
    assert not (tmp_path / "b" / "mlp_adam_lr0.001_noaug_seed0").exists()  # refused before any training


def test_the_report_shows_the_real_photos(shapes):
    out, photos = shapes
    assert main(["evaluate", str(out), "--real-photos", str(photos)]) == 0  # scoring again changes nothing
    md = (out / "report.md").read_text()
    assert "## Real photos" in md and "figures/real_photos_confusion.png" in md
    assert (out / "figures" / "real_photos_worst_mlp.png").is_file()

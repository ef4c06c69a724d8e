"""`bakeoff predict` on many photos: streamed batch by batch (decode, predict, write), never all photos in memory;
--explain writes one file per photo whatever their names, and says how many it wrote."""
import io
import json

import numpy as np
import pytest
from PIL import Image

import bakeoff.commands.serving as serving
import bakeoff.serve.photos as photos
from bakeoff.cli import main
from bakeoff.serve.photos import unique_names
from bakeoff.serve.predictor import Predictor
from serve_fixtures import shape_photo, untrained_mlp_run

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 28x28 MLP checkpoint (random weights: these tests are about files and memory, not accuracy)."""
    return untrained_mlp_run(tmp_path_factory.mktemp("pred") / "run", 28, ["tall", "wide", "square"], 0.2, 0.3,
                             "shapes")


def run_cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_explain_writes_one_file_per_photo_whatever_the_names(run_dir, tmp_path, capsys):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    names = ["a.png", "a.webp", "a-2.png", "sub/a.png", "A.png", "a_png.png", "sub__a.png"]
    photo = Image.open(io.BytesIO(shape_photo("tall", fmt="PNG")))
    for name in names:
        photo.save(d / name)
    rc, out, err = run_cli(capsys, "predict", run_dir, d, "--json", "--explain", tmp_path / "seen")
    assert rc == 0 and len(out.splitlines()) == len(names)
    written = sorted(p.name.lower() for p in (tmp_path / "seen").iterdir())
    assert len(written) == len(set(written)) == len(names)  # distinct even where case does not count
    assert f"wrote {len(names)} explanations" in err


def test_names_are_unique_over_any_paths(tmp_path):
    paths = [tmp_path / p for p in ("a.png", "a.png", "A.PNG", "a_png", "a_png-2", "x/a.png", "x__a.png")]
    names = unique_names(paths)
    assert len({n.lower() for n in names}) == len(paths)


def test_photos_are_decoded_predicted_and_written_a_batch_at_a_time(run_dir, tmp_path, capsys, monkeypatch):
    """10 photos in batches of 4: each batch is predicted (and printed) before the next is decoded, and
    --explain keeps only a thumbnail of each photo meanwhile."""
    d = tmp_path / "photos"
    d.mkdir()
    big = Image.new("L", (3000, 2000), 220)
    big.paste(30, (1000, 400, 1600, 1800))
    for i in range(10):
        big.save(d / f"{i:02}.jpg")
    events = []
    real_views, real_batch = Predictor.views, Predictor.predict_batch

    def views(self, source, model, name="image"):
        photo, view = real_views(self, source, model, name)
        events.append("decode")
        return photo, view

    def predict_batch(self, views, model, k=3, batch_size=256):
        events.append(f"predict {len(views)}")
        return real_batch(self, views, model, k, batch_size)

    kept = []
    monkeypatch.setattr(Predictor, "views", views)
    monkeypatch.setattr(Predictor, "predict_batch", predict_batch)
    monkeypatch.setattr(serving, "PREDICT_BATCH", 4)
    real_thumbnail = photos.explain_thumbnail

    def thumbnail(im):
        small = real_thumbnail(im)
        kept.append(small.size)
        return small

    monkeypatch.setattr(serving, "explain_thumbnail", thumbnail)  # as commands/serving.py calls it
    rc, out, err = run_cli(capsys, "predict", run_dir, d, "--json", "--explain", tmp_path / "seen")
    assert rc == 0
    assert events == ["decode"] * 4 + ["predict 4"] + ["decode"] * 4 + ["predict 4"] + ["decode"] * 2 + ["predict 2"]
    assert [json.loads(line)["path"] for line in out.splitlines()] == [str(d / f"{i:02}.jpg") for i in range(10)]
    assert all(h <= 448 for _, h in kept) and len(kept) == 10  # 448 px high, not the decoded photo
    assert "wrote 10 explanations" in err and len(list((tmp_path / "seen").iterdir())) == 10


def test_an_unreadable_photo_in_a_later_batch_is_skipped_and_counted_out(run_dir, tmp_path, capsys, monkeypatch):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(5):
        (d / f"{i}.png").write_bytes(shape_photo("wide", fmt="PNG"))
    (d / "3.png").write_bytes(b"\x89PNG broken")
    monkeypatch.setattr(serving, "PREDICT_BATCH", 2)
    rc, out, err = run_cli(capsys, "predict", run_dir, d, "--explain", tmp_path / "seen")
    assert rc == 0 and "skipped" in err and str(d / "3.png") in err and "wrote 4 explanations" in err
    assert len(list((tmp_path / "seen").iterdir())) == 4


def test_an_explain_folder_that_cannot_be_written_is_one_line(run_dir, tmp_path, capsys):
    (tmp_path / "p.png").write_bytes(shape_photo("tall", fmt="PNG"))
    (tmp_path / "taken").write_text("a file, not a folder")
    rc, out, err = run_cli(capsys, "predict", run_dir, tmp_path / "p.png", "--explain", tmp_path / "taken")
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and f"cannot write {tmp_path / 'taken'}" in err


def test_streamed_predictions_equal_one_batch(run_dir, tmp_path, capsys, monkeypatch):
    d = tmp_path / "photos"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(7):
        Image.fromarray(rng.integers(0, 255, (40, 30), dtype=np.uint8)).save(d / f"{i}.png")
    _, whole, _ = run_cli(capsys, "predict", run_dir, d, "--json")
    monkeypatch.setattr(serving, "PREDICT_BATCH", 3)
    _, streamed, _ = run_cli(capsys, "predict", run_dir, d, "--json")
    assert whole == streamed and len(whole.splitlines()) == 7

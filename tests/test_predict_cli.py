"""`bakeoff predict` end to end: a model trained on 28x28 light-on-dark shapes names photos of dark shapes on paper."""
import io
import json
import socket

import numpy as np
import pytest
from PIL import Image

from bakeoff.cli import main
from serve_fixtures import SHAPES, digits_comparison, shape_photo, shapes_npz, train


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """An MLP trained on arrays:shapes.npz (28x28, named like a fashion set, not fashion-mnist)."""
    root = tmp_path_factory.mktemp("shapes")
    npz = shapes_npz(root / "fashion-mnist.npz")
    out = train(root / "runs", "--dataset", f"arrays:{npz}", "--models", "mlp", "--epochs", "15",
                "--batch-size", "32")
    (run,) = [d for d in out.iterdir() if (d / "best.pt").is_file()]
    return run


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    (d / "tall.jpg").write_bytes(shape_photo("tall"))
    (d / "wide.png").write_bytes(shape_photo("wide", fmt="PNG"))
    (d / "square.jpg").write_bytes(shape_photo("square"))
    (d / "rotated-tall.jpg").write_bytes(shape_photo("tall", exif_rotate=True))  # stored wide, EXIF says turn
    (d / "notes.txt").write_text("not a photo; folders skip it")
    return d


def run_cli(capsys, *args):
    rc = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return rc, out, err


def test_photos_of_shapes_are_named_as_trained(shapes_run, photos, capsys):
    rc, out, _ = run_cli(capsys, "predict", shapes_run, photos, "--json", "--top-k", "2")
    assert rc == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in rows] == [str(photos / n) for n in ("rotated-tall.jpg", "square.jpg", "tall.jpg",
                                                                    "wide.png")]
    for r in rows:
        expected = r["path"].split("/")[-1].split(".")[0].removeprefix("rotated-")
        assert r["top_k"][0]["label"] == expected, r
        assert len(r["top_k"]) == 2 and {t["label"] for t in r["top_k"]} <= set(SHAPES)
        assert r["top_k"][0]["prob"] >= r["top_k"][1]["prob"]


def test_table_globs_explain_and_onnx(shapes_run, photos, tmp_path, capsys):
    explain = tmp_path / "seen"
    rc, out, err = run_cli(capsys, "predict", shapes_run / "best.pt", f"{photos}/*.jpg", "--explain", explain)
    assert rc == 0 and str(explain) in err
    assert "tall.jpg" in out and "square" in out and "wide.png" not in out
    written = sorted(p.name for p in explain.iterdir())
    assert written == ["rotated-tall_jpg.png", "square_jpg.png", "tall_jpg.png"]
    with Image.open(explain / "tall_jpg.png") as im:
        # the 400x300 photo at 224 px high (299 wide), 8 px apart from the 224 px model input and the same under
        # its Grad-CAM map; 2 caption lines, then 3 guesses
        assert im.size == (299 + 8 + 224 + 8 + 224, 224 + 36 + 16 * 3)
        seen = np.asarray(im.convert("L"))[:224, -(224 + 8 + 224):-(224 + 8)]
    assert seen[:, :40].mean() < 40 and seen[100:124, 100:124].mean() > 120  # light tall shape on black
    rc, onnx_out, _ = run_cli(capsys, "predict", shapes_run, f"{photos}/*.jpg", "--json", "--runtime", "onnx")
    rc2, torch_out, _ = run_cli(capsys, "predict", shapes_run, f"{photos}/*.jpg", "--json")
    onnx_rows, torch_rows = [[json.loads(x) for x in o.splitlines()] for o in (onnx_out, torch_out)]
    for a, b in zip(onnx_rows, torch_rows):
        assert [t["label"] for t in a["top_k"]] == [t["label"] for t in b["top_k"]]
        assert np.allclose([t["prob"] for t in a["top_k"]], [t["prob"] for t in b["top_k"]], atol=1e-4)


def test_a_folder_with_an_unreadable_file_predicts_the_rest(shapes_run, photos, capsys):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    rc, out, err = run_cli(capsys, "predict", shapes_run, photos, "--json")
    assert rc == 0 and len(out.splitlines()) == 4
    assert len(err.strip().splitlines()) == 1 and str(photos / "broken.jpg") in err


def test_explanations_never_overwrite_each_other(shapes_run, tmp_path, capsys):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    for name in ("a.png", "a.webp", "a-2.png", "sub/a.png"):
        Image.open(io.BytesIO(shape_photo("tall", fmt="PNG"))).save(d / name)
    rc, _, _ = run_cli(capsys, "predict", shapes_run, d, "--explain", tmp_path / "seen")
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "seen").iterdir()) == ["a-2_png.png", "a_png.png", "a_webp.png",
                                                                      "sub__a_png.png"]


def test_bad_input_is_one_line_and_exit_2(shapes_run, photos, tmp_path, capsys):
    (tmp_path / "fake.jpg").write_bytes(b"GIF89 but not really")
    comparison = digits_comparison(tmp_path / "digits")
    capsys.readouterr()
    cases = [
        (["predict", shapes_run, tmp_path / "nowhere.jpg"], str(tmp_path / "nowhere.jpg")),
        (["predict", shapes_run, f"{photos}/*.gif"], f"{photos}/*.gif"),
        (["predict", shapes_run, tmp_path / "fake.jpg"], str(tmp_path / "fake.jpg")),
        (["predict", shapes_run, photos, "--top-k", "0"], "--top-k must be at least 1"),
        (["predict", tmp_path / "nope", photos], str(tmp_path / "nope")),
        (["predict", comparison, photos], "2 runs"),
        (["predict", shapes_run, photos, "--runtime", "tensorrt"], "'tensorrt'; choose from: onnx, torch"),
        (["predict", shapes_run, tmp_path / "empty"], ".jpg"),  # a folder without photos: the extensions taken
    ]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases += [
            (["serve", comparison, "--port", port], f"127.0.0.1:{port}"),
            (["serve", tmp_path / "photos-only"], str(tmp_path / "photos-only")),
            (["serve", photos, "--port", free_port()], "best.pt"),  # what a run folder must hold
            (["serve", comparison, "--max-upload-mb", "0"], "--max-upload-mb must be positive"),
        ]
        for args, expected in cases:
            rc, out, err = run_cli(capsys, *args)
            assert rc == 2 and len(err.strip().splitlines()) == 1 and expected in err, (args, err)
            assert out == ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["predict", "serve", "export"])
def test_help_opens_with_an_example(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"usage: bakeoff {command} runs/") and "--" in first


def test_dataset_images_saved_as_files_are_predicted_as_the_tensors_were(shapes_run, tmp_path, capsys):
    """The round trip: test images written as PNG and sent through `predict` get the predictions `evaluate` gave."""
    npz = next(shapes_run.parents[1].glob("*.npz"))
    with np.load(npz) as z:
        x_test = z["x_test"]
    folder = tmp_path / "as-files"
    folder.mkdir()
    for i, img in enumerate(x_test):
        Image.fromarray(img.squeeze()).save(folder / f"{i:03d}.png")
    rc, out, _ = run_cli(capsys, "predict", shapes_run, folder, "--json")
    assert rc == 0
    labels = [json.loads(line)["top_k"][0]["label"] for line in out.splitlines()]
    with np.load(shapes_run / "predictions.npz") as p:
        tensors = [SHAPES[k] for k in p["y_pred"]]
    assert labels == tensors


def test_no_crop_keeps_the_whole_photo(shapes_run, photos, tmp_path, capsys):
    for flag, name in (([], "cropped"), (["--no-crop"], "whole")):
        rc, _, _ = run_cli(capsys, "predict", shapes_run, photos / "tall.jpg", "--explain", tmp_path / name, *flag)
        assert rc == 0
    views = {}
    for name in ("cropped", "whole"):
        with Image.open(tmp_path / name / "tall_jpg.png") as im:
            views[name] = np.asarray(im.convert("L"))[:224, -(224 + 8 + 224):-(224 + 8)]  # what the model saw
    rows = {k: np.flatnonzero(v.max(1) > 100) for k, v in views.items()}
    height = {k: r[-1] - r[0] for k, r in rows.items()}
    assert height["cropped"] >= 200 and height["whole"] < 140  # trimmed, the tall shape fills the frame's height

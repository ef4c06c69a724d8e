"""After training: calibration, robustness and Grad-CAM written by `compare`, read by the leaderboard, the report,
and `predict --calibrated / --explain`."""
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from bakeoff.analysis.finished import cam_images
from bakeoff.cli import main


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """mlp and cnn4, one epoch on digits, robustness skipped: the quick path."""
    out = tmp_path_factory.mktemp("analysis") / "cmp"
    assert main(["compare", "--models", "mlp,cnn4", "--epochs", "1", "--out", str(out), "--quiet",
                 "--no-robustness"]) == 0
    return out


def runs(out):
    return sorted(d for d in out.iterdir() if (d / "best.pt").is_file())


def test_calibration_is_fitted_on_validation_and_saved_everywhere(comparison):
    for run in runs(comparison):
        metrics = json.loads((run / "metrics.json").read_text())
        cal = json.loads((run / "calibration.json").read_text())
        ckpt = torch.load(run / "best.pt", weights_only=True)
        assert cal["fitted_on"] == "validation" and cal["n_val"] == metrics["n_val"]
        assert ckpt["temperature"] == metrics["temperature"] == cal["temperature"] > 0
        assert 0 <= metrics["ece"] <= 1 and 0 <= metrics["ece_calibrated"] <= 1
        assert cal["val_nll_calibrated"] <= cal["val_nll"] + 1e-9  # what the fit minimised cannot get worse
        assert sum(cal["before"]["count"]) == metrics["n_test"]
        assert "corrupted_acc" not in metrics and not (run / "robustness.json").exists()  # --no-robustness


def test_leaderboard_and_report_show_the_new_columns_and_sections(comparison):
    with open(comparison / "leaderboard.csv") as f:
        rows = list(csv.DictReader(f))
    assert all(float(r["ece"]) >= 0 and r["corrupted_acc"] == "" for r in rows)
    html = (comparison / "report.html").read_text()
    for section in ("calibration", "robustness", "gradcam"):
        assert f'<section id="{section}">' in html
    assert 'id="fig-calibration_all"' in html and 'id="fig-calibration_per_model"' in html
    assert 'id="fig-gradcam"' in html and "input gradients (no convolution)" in html  # mlp says so
    assert "--no-robustness" in html  # the robustness section says why it is empty
    assert "ECE (%)" in html and "corrupted acc (%)" in html  # the column is there, empty where not measured


def test_gradcam_file_explains_every_model_on_the_same_images(comparison):
    with np.load(comparison / "gradcam.npz") as z:
        cams = {k: z[k] for k in z.files}
    assert len(cams["run_ids"]) == 2 and cams["maps"].shape == (2, 12, 8, 8)
    assert {str(m).split(" ")[0] for m in cams["methods"]} == {"Grad-CAM", "input"}
    preds = [np.load(comparison / rid / "predictions.npz")["y_pred"] for rid in cams["run_ids"]]
    assert all(np.array_equal(p[cams["indices"]], yp) for p, yp in zip(preds, cams["y_pred"]))


def test_a_later_compare_adds_robustness_without_retraining(comparison, tmp_path):
    import shutil

    out = tmp_path / "cmp"
    shutil.copytree(comparison, out)
    before = {r.name: (r / "best.pt").stat().st_mtime_ns for r in runs(out)}
    history = {r.name: (r / "history.csv").read_text() for r in runs(out)}
    assert main(["compare", "--models", "mlp,cnn4", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    for run in runs(out):
        metrics = json.loads((run / "metrics.json").read_text())
        rob = json.loads((run / "robustness.json").read_text())
        assert metrics["corrupted_acc"] == rob["mean_corrupted_acc"] and rob["n_images"] == metrics["n_test"]
        assert (run / "history.csv").read_text() == history[run.name]  # not trained again
        assert (run / "best.pt").stat().st_mtime_ns == before[run.name]  # calibration was not redone either
    assert 'id="fig-robustness_curves"' in (out / "report.html").read_text()


def test_predict_calibrated_divides_the_logits_by_the_temperature(comparison, tmp_path, capsys):
    from sklearn.datasets import load_digits

    run = runs(comparison)[0]
    photo = tmp_path / "digit.png"
    Image.fromarray((load_digits().images[3] * 16).clip(0, 255).astype(np.uint8)).save(photo)
    answers = {}
    for flag in ([], ["--calibrated"]):
        assert main(["predict", str(run), str(photo), "--json", "--top-k", "10", *flag]) == 0
        top = json.loads(capsys.readouterr().out)["top_k"]
        answers[bool(flag)] = {t["label"]: t["prob"] for t in top}
    t = torch.load(run / "best.pt", weights_only=True)["temperature"]
    raw = np.array([answers[False][str(k)] for k in range(10)])
    expected = np.exp(np.log(np.maximum(raw, 1e-30)) / t)  # softmax(z / T) = normalized p ** (1 / T)
    expected /= expected.sum()
    got = np.array([answers[True][str(k)] for k in range(10)])
    assert np.allclose(got, expected, atol=2e-4)
    assert max(answers[True], key=answers[True].get) == max(answers[False], key=answers[False].get)


def test_predict_calibrated_without_a_temperature_is_one_line(comparison, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs(comparison)[0], run)
    ckpt = torch.load(run / "best.pt", weights_only=True)
    del ckpt["temperature"]
    torch.save(ckpt, run / "best.pt")
    Image.new("L", (8, 8)).save(tmp_path / "blank.png")
    assert main(["predict", str(run), str(tmp_path / "blank.png"), "--calibrated"]) == 2
    assert "no calibration temperature" in capsys.readouterr().err


def test_predict_explain_overlays_the_map_on_what_the_model_saw(comparison, tmp_path, capsys):
    photo = tmp_path / "blank.png"
    Image.new("L", (32, 32), 40).save(photo)
    for run in runs(comparison):
        seen = tmp_path / run.name
        assert main(["predict", str(run), str(photo), "--explain", str(seen)]) == 0
        (png,) = seen.iterdir()
        width = Image.open(png).width
        assert width == 224 + 8 + 224 + 8 + 224  # photo | model's view | the view under its map


def test_cam_images_put_disagreements_first():
    y_true = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    best = np.array([0, 1, 2, 0, 0, 2, 0, 1])  # wrong on 4
    second = np.array([0, 1, 0, 0, 1, 2, 1, 1])  # wrong on 2, 6
    idx = cam_images([best, second], y_true, 5)
    assert list(idx[:3]) == [2, 4, 6]  # best right alone (2), runner-up right alone (4), best right alone (6)
    assert len(idx) == 5 and len(set(idx)) == 5


def test_report_at_1366_px_shows_the_whole_leaderboard_and_the_why_sections(comparison):
    """A real Chromium: the leaderboard needs no horizontal scrolling on a 1,366 px screen, the figures load."""
    import tempfile
    from pathlib import Path

    playwright = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' for playwright")
    chromium = Path("/usr/bin/chromium")
    if not chromium.is_file():
        pytest.skip("Debian's chromium is not installed (make setup-test installs it)")
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    with playwright.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(profile, executable_path=str(chromium), args=args,
                                                       headless=True, viewport={"width": 1366, "height": 768})
        try:
            page = browser.new_page()
            page.goto((comparison / "report.html").resolve().as_uri(), wait_until="load")
            scroll, visible = page.evaluate("() => { const w = document.querySelector('#leaderboard-table')"
                                            ".parentElement; return [w.scrollWidth, w.clientWidth]; }")
            assert scroll <= visible, (scroll, visible)
            for figure in ("calibration_all", "calibration_per_model", "gradcam"):
                assert page.evaluate(f"document.querySelector('#fig-{figure} img').naturalWidth") > 200
        finally:
            browser.close()

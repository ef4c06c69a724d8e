"""--freeze probe: the final linear layer fitted by logistic regression on frozen features, checked against
scikit-learn fitting the same features itself, end to end through `bakeoff train`."""
import json

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from bakeoff.cli import main
from bakeoff.config import RunConfig
from bakeoff.errors import ConfigError
from bakeoff.models import create_model, has_trait, list_models
from bakeoff.models.checkpoint import load_checkpoint, model_from_checkpoint
from bakeoff.models.options import check_run
from bakeoff.store.metrics_check import damage
from data_fixtures import tiny_images, write_npz


@pytest.mark.parametrize("name", list_models())
def test_linear_head_trait_says_whether_the_head_is_the_final_layer_alone(name):
    model = create_model(name, num_classes=3, in_chans=3, img_size=32)
    head = {id(p) for p in model.head_parameters()}
    final = {id(p) for p in model.get_classifier().parameters()}
    assert has_trait(name, "linear_head") == (head == final)


def test_a_probe_of_a_model_with_a_deeper_head_is_one_line():
    with pytest.raises(ConfigError, match="--freeze probe fits a final linear layer.*cnn4.*It works on: "):
        check_run(RunConfig(model="cnn4", freeze="probe"))


@pytest.fixture
def photos_like(tmp_path):
    x, y = tiny_images(150, size=12, channels=3, num_classes=3)
    return write_npz(tmp_path / "tiny.npz", x[:120], y[:120], x[120:], y[120:])


def test_the_probe_is_the_logistic_regression_its_validation_chose(photos_like, tmp_path):
    out = tmp_path / "out"
    assert main(["train", "--dataset", f"arrays:{photos_like}", "--model", "resnet20", "--freeze", "probe",
                 "--epochs", "3", "--quiet", "--no-robustness", "--out", str(out)]) == 0
    (run,) = [p.parent for p in out.glob("*/metrics.json")]
    assert run.name.endswith("_freeze-probe")
    metrics = json.loads((run / "metrics.json").read_text())
    assert damage(metrics) is None  # a run the leaderboard and the report trust
    assert metrics["epochs_run"] == 1 and metrics["best_epoch"] == 1  # a solver, not epochs
    c = metrics["probe_c"]
    assert metrics["val_acc"] == max(metrics["probe_val_acc_by_c"].values())

    # the same features, fitted by scikit-learn directly at the chosen strength, give the same head
    ckpt = load_checkpoint(run / "best.pt")
    model = model_from_checkpoint(ckpt).eval()
    data = np.load(photos_like)
    x = torch.from_numpy(data["x_train"]).permute(0, 3, 1, 2).float() / 255
    mean, std = ckpt["preprocessing"]["mean"], ckpt["preprocessing"]["std"]
    x = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        features = model.forward_head(model.forward_features(x), pre_logits=True).double().numpy()
        logits = model(x).double().numpy()
    config = json.loads((run / "config.json").read_text())
    assert config["freeze"] == "probe"
    reference = LogisticRegression(C=c, max_iter=1000).fit(features, data["y_train"])
    agree = (reference.predict(features) == logits.argmax(1)).mean()
    assert agree > 0.97  # trained on 9/10 of these images, so a few near the boundary may differ
    assert metrics["test_acc"] > 0.9  # brightness follows the label: the probe finds it


def test_fine_tuning_starts_from_the_probe(photos_like, tmp_path):
    out = tmp_path / "out"
    assert main(["train", "--dataset", f"arrays:{photos_like}", "--model", "resnet20", "--freeze", "probe",
                 "--finetune-blocks", "1", "--epochs", "2", "--quiet", "--no-robustness", "--out", str(out)]) == 0
    (run,) = [p.parent for p in out.glob("*/metrics.json")]
    stages = [line.split(",")[-1] for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert stages == ["probe", "finetune", "finetune"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert damage(metrics) is None
    assert "probe_c" in metrics and "finetune_kept" in metrics
    lrs = [line.split(",")[5] for line in (run / "history.csv").read_text().splitlines()[2:]]
    assert all(float(lr) < 0.001 for lr in lrs)  # the fitted layer moves as slowly as the blocks, never at 1e-3


def test_photos_through_predict_score_what_the_run_scored_on_its_test_split(tmp_path, capsys):
    """The round trip on a photo folder: the test photos sent through `bakeoff predict` (the checkpoint's own input
    recipe) get exactly the run's test accuracy."""
    from data_fixtures import write_image_folder

    folder = write_image_folder(tmp_path / "photos", 24, (40, 30), split=True, ext="jpg")
    out = tmp_path / "out"
    assert main(["train", "--dataset", f"folder:{folder}", "--model", "resnet20", "--freeze", "probe",
                 "--img-size", "16", "--quiet", "--no-robustness", "--out", str(out)]) == 0
    (run,) = [p.parent for p in out.glob("*/metrics.json")]
    capsys.readouterr()
    assert main(["predict", str(run), str(folder / "test"), "--json"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    right = [a["top_k"][0]["label"] == a["path"].split("/")[-2] for a in answers]
    assert len(right) == 3 * 6
    assert sum(right) / len(right) == json.loads((run / "metrics.json").read_text())["test_acc"]
    # and photo by photo, in the folder loader's order (class, then file name), with the same probabilities
    classes = load_checkpoint(run / "best.pt")["classes"]
    with np.load(run / "predictions.npz") as saved:
        assert [a["top_k"][0]["label"] for a in answers] == [classes[k] for k in saved["y_pred"]]
        top = saved["probs"].max(1)
    assert [a["top_k"][0]["prob"] for a in answers] == pytest.approx(top.tolist(), abs=1e-4)

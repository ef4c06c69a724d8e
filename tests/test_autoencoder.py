"""The convolutional autoencoder: shapes, staged training, denoising noise, and its outputs beside PCA's."""
from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from bakeoff.cli import main
from bakeoff.config import RunConfig
from bakeoff import files
from bakeoff.store import runfolder
from bakeoff.engine.epoch import Split
from bakeoff.engine.loop import fit
from bakeoff.engine.objectives import Noise, Reconstruction, Reconstructor
from bakeoff.engine.stages import fit_frozen
from bakeoff.models import create_model

CPU = torch.device("cpu")
RUN = "autoencoder_adam_lr0.001_noaug_seed0"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here runs on one intra-op thread (conftest.one_thread says why)."""


@pytest.mark.parametrize(("in_chans", "size", "map_side"), [(1, 8, 1), (1, 28, 1), (3, 32, 2), (3, 48, 3)])
def test_reconstruction_has_the_input_shape(in_chans, size, map_side):
    model = create_model("autoencoder", num_classes=4, in_chans=in_chans, img_size=size, latent_dim=12)
    x = torch.randn(2, in_chans, size, size)
    assert model.forward_features(x).shape == (2, 12)
    assert model.reconstruct(x).shape == x.shape
    assert model(x).shape == (2, 4)
    assert model.map_shape == (256, map_side, map_side)
    assert len(model.backbone_blocks()) == 4  # seed 001: four encoder blocks


def test_decoder_mirrors_the_encoder():
    model = create_model("autoencoder", num_classes=10, in_chans=1, img_size=28)
    enc = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    dec = [m for m in model.decoder if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in enc] == [(1, 32), (32, 64), (64, 128), (128, 256)]
    assert [(m.out_channels, m.in_channels) for m in reversed(dec)] == [(1, 32), (32, 64), (64, 128), (128, 256)]
    dense = [m for m in [*model.pre_logits, model.fc] if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in dense] == [256, 128, 10]  # the three-layer classifier


def test_noise_has_the_asked_std_on_the_pixel_scale_and_stays_in_range():
    mean, std = [0.3], [0.2]
    noise = Noise(0.1, mean, std, CPU)
    x = torch.zeros(2000, 1, 4, 4)  # 0 standardized = pixel 0.3: far from both clips
    noisy = noise(x, torch.Generator().manual_seed(0))
    assert (noisy * std[0]).std().item() == pytest.approx(0.1, rel=0.02)
    bright = noise(torch.full((500, 1, 4, 4), (1 - 0.3) / 0.2), torch.Generator().manual_seed(1))
    assert bright.max().item() == pytest.approx((1 - 0.3) / 0.2)  # clipped at pixel 1.0
    assert torch.equal(Noise(0.0, mean, std, CPU)(x, torch.Generator()), x)


def _digits(n: int = 128):
    from bakeoff.data import load_dataset
    from bakeoff.runs.runner import PreparedData

    data = PreparedData.from_dataset(load_dataset("digits"))
    y = data.dataset.y_train
    return data, Split(data.x_train[:n], y[:n]), Split(data.x_train[n:n + 48], y[n:n + 48])


def test_stages_reduce_the_reconstruction_error_then_train_only_the_classifier():
    data, train, val = _digits()
    cfg = RunConfig(model="autoencoder", epochs=3, batch_size=32, precision="fp32", latent_dim=16, denoise=0.1)
    torch.manual_seed(0)
    model = create_model("autoencoder", num_classes=10, in_chans=1, img_size=8, latent_dim=16)
    head = {id(p) for p in model.head_parameters()}
    objective = Reconstruction(Noise(cfg.denoise, data.mean, data.std, CPU), cfg.seed, CPU)
    recon = fit(Reconstructor(model), train, val, cfg, CPU, "fp32", objective=objective, stage="reconstruct",
                params=[p for p in model.parameters() if id(p) not in head], quiet=True)
    rows = recon.history
    assert [r["epoch"] for r in rows] == [1, 2, 3] and {r["stage"] for r in rows} == {"reconstruct"}
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] < 1.5  # MSE per standardized pixel; 1.0 = predicting 0
    assert all(r["train_acc"] != r["train_acc"] for r in rows)  # NaN: reconstruction has no accuracy
    encoder = copy.deepcopy(model.state_dict())
    result, info = fit_frozen(model, train, val, cfg, CPU, "fp32", stage="classify", history_before=rows)
    assert info["feature_cache"] and [r["stage"] for r in result.history] == ["reconstruct"] * 3 + ["classify"] * 3
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5, 6] and result.best_epoch > 3
    after = model.state_dict()
    for key in encoder:
        if key.startswith(("features.", "to_code.", "decoder.")):
            assert torch.equal(encoder[key], after[key]), key
        elif key in ("fc.weight", "pre_logits.1.weight"):
            assert not torch.equal(encoder[key], after[key]), key


def test_autoencoder_run_end_to_end(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "--model", "autoencoder", "--epochs", "2", "--train-subset", "300", "--latent-dim", "16",
                 "--batch-size", "16", "--denoise", "0.2", "--finetune-blocks", "4", "--out", str(out), "--quiet"]) == 0
    run = out / f"{RUN}_ft4x0.1_z16_dn0.2"
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:7] == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
    assert [r["stage"] for r in rows] == ["reconstruct"] * 2 + ["classify"] * 2 + ["finetune"] * 2
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["train_acc"] == "nan" and all(0 <= float(r["train_acc"]) <= 1 for r in rows[2:])  # accuracies
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["epochs_run"] == 6 and metrics["best_epoch"] >= 3
    assert metrics["probe_dim"] == metrics["pca_components"] == 16
    for key in ("probe_ae_acc", "probe_pca_acc", "test_acc"):
        assert 0.15 < metrics[key] <= 1.0, key  # above chance (10 classes) on digits
    assert 0 < metrics["test_recon_mse"] < 1.5 and 0 < metrics["pca_recon_mse"] < 1.5
    assert metrics["train_seconds"] == pytest.approx(sum(float(r["seconds"]) for r in rows))
    views = files.read_arrays(run / runfolder.AUTOENCODER_FILE)
    shown = views["images"].shape
    assert shown == (10, 8, 8) and views["reconstructions"].shape == views["denoised"].shape == shown
    assert 0 <= views["noisy"].min() and views["noisy"].max() <= 1  # pixels, clipped like the training noise
    assert views["codes_xy"].shape == views["pca_xy"].shape == (len(views["map_labels"]), 2)
    report = (out / "report.md").read_text()  # the probe and the pictures reach the report too
    assert (f"Linear classifier on the 16-number codes: {100 * metrics['probe_ae_acc']:.2f}% test accuracy; "
            f"on 16 PCA components of the pixels: {100 * metrics['probe_pca_acc']:.2f}%") in report
    assert "2 epochs of reconstruction on inputs with noise sigma 0.2" in report
    assert "last 4 of 4 backbone blocks fine-tuned at lr x 0.1" in report
    for name in ("reconstructions", "denoised", "latent_map"):
        assert f"figures/autoencoder_{name}.png" in report
        with Image.open(out / "figures" / f"autoencoder_{name}.png") as im:
            assert im.format == "PNG" and im.width > 300, name
    ckpt = torch.load(run / "best.pt", weights_only=True)
    assert ckpt["model_kwargs"]["latent_dim"] == 16
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0  # rebuilt from the checkpoint alone
    assert json.loads(capsys.readouterr().out)["test_acc"] == pytest.approx(metrics["test_acc"])


class _Killed(Exception):
    """Stands in for SIGKILL: the process stops right after an epoch's state and history were saved."""


def test_an_autoencoder_run_resumes_mid_stage_with_the_same_result(tmp_path, monkeypatch):
    """Every stage is the one training loop, so every stage resumes: here, killed in the classify stage."""
    args = ["train", "--model", "autoencoder", "--epochs", "3", "--train-subset", "200", "--latent-dim", "8",
            "--batch-size", "32", "--finetune-blocks", "1", "--precision", "fp32", "--quiet"]
    run_id = f"{RUN}_ft1x0.1_z8"
    assert main([*args, "--out", str(tmp_path / "ref")]) == 0
    reference = tmp_path / "ref" / run_id

    write_history = runfolder.write_history

    def killed_after_four_epochs(run_dir, rows):
        write_history(run_dir, rows)
        if len(rows) == 4:  # reconstruct 1-3, classify 1
            raise _Killed

    monkeypatch.setattr(runfolder, "write_history", killed_after_four_epochs)
    with pytest.raises(_Killed):
        main([*args, "--out", str(tmp_path / "o")])
    run = tmp_path / "o" / run_id
    assert {p.name for p in runfolder.state_files(run)} == {"state-reconstruct.pt", "state-classify.pt"}
    monkeypatch.setattr(runfolder, "write_history", write_history)
    assert main([*args, "--out", str(tmp_path / "o")]) == 0
    resumed, expected = (json.loads((d / "metrics.json").read_text()) for d in (run, reference))
    assert resumed["resumed_from_epoch"] == 3  # the reconstruction stage was not trained again
    for key in ("test_acc", "test_loss", "val_loss", "best_epoch", "epochs_run", "probe_ae_acc", "test_recon_mse"):
        assert resumed[key] == expected[key], key
    assert (run / "history.csv").read_text().count("\n") == (reference / "history.csv").read_text().count("\n")
    assert runfolder.state_files(run) == []


def test_a_collapsed_autoencoders_codes_get_a_map_not_a_crash():
    """A collapsed autoencoder (lr too high: every code the same) once crashed sklearn's t-SNE, and with it the
    run, before metrics.json was written; every rerun resumed into the same crash."""
    from bakeoff.analysis.autoencoder_views import tsne_2d

    for codes in (np.ones((500, 64), np.float32), np.full((500, 64), np.nan, np.float32)):
        xy = tsne_2d(codes, 0)
        assert xy.shape == (500, 2) and np.isfinite(xy).all()

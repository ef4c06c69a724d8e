"""The training engine on real (tiny) data: determinism, early stopping, divergence, checkpoints."""
import math

import pytest
import torch

from bakeoff.config import RunConfig
from bakeoff.data import load_dataset, train_val_split
from bakeoff.engine.augment import Augment, random_crop, random_flip
from bakeoff.models.checkpoint import load_checkpoint, model_from_checkpoint
from bakeoff.engine.epoch import Split, evaluate
from bakeoff.engine.optim import build_optimizer, build_schedule
from bakeoff.store.runfolder import read_status
from bakeoff.runs.runner import PreparedData, execute_run


@pytest.fixture(scope="module")
def digits():
    return PreparedData.from_dataset(load_dataset("digits"))


def test_random_crop_is_a_translation():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    gen = torch.Generator().manual_seed(0)
    out = random_crop(x, pad=2, gen=gen)
    assert out.shape == x.shape
    for b in range(2):  # every output is the input shifted by some (dy, dx) with zeros shifted in
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                shifted = torch.zeros(6, 6)
                src = x[b, 0]
                ys, xs = slice(max(0, dy), 6 + min(0, dy)), slice(max(0, dx), 6 + min(0, dx))
                yd, xd = slice(max(0, -dy), 6 + min(0, -dy)), slice(max(0, -dx), 6 + min(0, -dx))
                shifted[yd, xd] = src[ys, xs]
                matches.append(torch.equal(shifted, out[b, 0]))
        assert any(matches)


def test_flip_mirrors_about_half_the_batch():
    x = torch.randn(1000, 1, 4, 4)
    out = random_flip(x, torch.Generator().manual_seed(1))
    flipped = (out == x.flip(3)).flatten(1).all(1)
    assert 400 < flipped.sum() < 600
    assert torch.equal(out[~flipped], x[~flipped])


def test_augment_is_deterministic_per_seed():
    x = torch.randn(16, 3, 8, 8)
    a, b = Augment(8, flip=True, seed=3), Augment(8, flip=True, seed=3)
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("opt", ["adam", "adamw", "rmsprop", "adadelta", "sgd"])
@pytest.mark.parametrize("schedule", ["none", "cosine", "onecycle"])
def test_optimizers_and_schedules_step(opt, schedule):
    w = torch.nn.Parameter(torch.ones(3))
    cfg = RunConfig(optimizer=opt, schedule=schedule, lr=0.1, epochs=2)
    o = build_optimizer([w], cfg)
    s = build_schedule(o, cfg, steps_per_epoch=5)
    for _ in range(10):
        o.zero_grad()
        (w ** 2).sum().backward()
        o.step()
        if s is not None:
            s.step()
    assert (w.detach() < 1).all()
    if schedule != "none":
        assert o.param_groups[0]["lr"] < 0.1  # annealed at the end of the schedule


def test_validation_split_is_stratified_disjoint_and_from_training_data():
    y = torch.arange(10).repeat_interleave(50)
    tr, va = train_val_split(y, 0.1, seed=0)
    assert len(set(tr.tolist()) & set(va.tolist())) == 0
    assert len(tr) + len(va) == 500
    assert torch.bincount(y[va]).tolist() == [5] * 10
    tr2, va2 = train_val_split(y, 0.1, seed=0)
    assert torch.equal(va, va2)
    # A subset trains on exactly N images; validation comes from the training images left over.
    sub_tr, sub_va = train_val_split(y, 0.1, seed=0, train_subset=200)
    assert len(sub_tr) == 200 and torch.bincount(y[sub_tr]).tolist() == [20] * 10
    assert torch.bincount(y[sub_va]).tolist() == [2] * 10 and not set(sub_tr.tolist()) & set(sub_va.tolist())
    # Too few left over: carved from the subset instead.
    big_tr, big_va = train_val_split(y, 0.1, seed=0, train_subset=480)
    assert len(big_tr) + len(big_va) == 480 and not set(big_tr.tolist()) & set(big_va.tolist())


def _cfg(**kw):
    return RunConfig(**{"dataset": "digits", "model": "cnn4", "epochs": 2, "batch_size": 64, **kw})


def test_same_seed_same_metrics(digits, tmp_path):
    cfg = _cfg(augment=True, seed=7)
    a = execute_run(cfg, digits, tmp_path / "a", quiet=True)
    b = execute_run(cfg, digits, tmp_path / "b", quiet=True)
    assert a["test_acc"] == b["test_acc"] and a["test_loss"] == b["test_loss"] and a["val_loss"] == b["val_loss"]
    assert (tmp_path / "a" / "history.csv").read_text().split("\n")[1].split(",")[:5] == \
           (tmp_path / "b" / "history.csv").read_text().split("\n")[1].split(",")[:5]
    c = execute_run(_cfg(augment=True, seed=8), digits, tmp_path / "c", quiet=True)
    assert c["val_loss"] != a["val_loss"]


def test_run_folder_and_best_weights_restored(digits, tmp_path):
    cfg = _cfg(model="mlp", epochs=4)
    m = execute_run(cfg, digits, tmp_path, quiet=True)
    for name in ("config.json", "history.csv", "metrics.json", "best.pt", "predictions.npz"):
        assert (tmp_path / name).is_file(), name
    rows = (tmp_path / "history.csv").read_text().strip().split("\n")
    assert rows[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,stage" and len(rows) == 5
    val_losses = [float(r.split(",")[3]) for r in rows[1:]]
    assert m["best_epoch"] == 1 + min(range(4), key=lambda i: val_losses[i])
    assert m["val_loss"] == pytest.approx(min(val_losses))
    # The checkpoint alone rebuilds the model, and it scores what metrics.json says.
    ckpt = load_checkpoint(tmp_path / "best.pt")
    assert ckpt["classes"] == [str(i) for i in range(10)]
    model = model_from_checkpoint(ckpt)
    test = Split(digits.x_test, digits.dataset.y_test)
    result = evaluate(model, test, torch.device("cpu"), m["precision"])
    assert result.acc == pytest.approx(m["test_acc"])
    import numpy as np
    pred = np.load(tmp_path / "predictions.npz")
    assert (pred["y_pred"] == pred["y_true"]).mean() == pytest.approx(m["test_acc"])
    assert pred["probs"].shape == (len(test), 10)


def test_early_stopping_stops_after_patience(digits, tmp_path):
    # A large learning rate on 1,300 images overfits fast: validation loss soon stops improving.
    cfg = _cfg(model="simple-cnn", epochs=40, patience=2, lr=3e-3)
    m = execute_run(cfg, digits, tmp_path, quiet=True)
    assert m["stopped_early"]
    assert m["epochs_run"] == m["best_epoch"] + 2


def test_divergence_is_recorded_as_failed(digits, tmp_path):
    cfg = _cfg(model="mlp", optimizer="sgd", lr=1e12, epochs=2)
    m = execute_run(cfg, digits, tmp_path, quiet=True)
    assert m["status"] == "failed" and "loss became" in m["reason"]
    assert read_status(tmp_path)["status"] == "failed"
    assert not (tmp_path / "best.pt").exists()


def test_bf16_and_fp32_both_train(digits, tmp_path):
    for precision in ("fp32", "bf16"):
        m = execute_run(_cfg(model="mlp", precision=precision, epochs=3), digits, tmp_path / precision, quiet=True)
        assert m["precision"] == precision and m["test_acc"] > 0.8 and math.isfinite(m["test_loss"])


def test_photo_augment_warps_dims_and_keeps_the_background():
    from bakeoff.engine.photo_augment import PhotoAugment

    bg = -0.8
    x = torch.full((64, 1, 28, 28), bg)
    x[:, :, 6:22, 9:19] = 2.0  # a bright object on the background
    out = PhotoAugment(bg, seed=0)(x)
    assert out.shape == x.shape
    assert torch.allclose(out[:, :, 0, 0], torch.full((64, 1), bg))  # corners stay background
    brightest = out.amax((1, 2, 3))
    assert brightest.max() <= bg + 1.1 * (2.0 - bg) + 1e-4  # contrast at most 1.1x
    assert brightest.min() < bg + 0.6 * (2.0 - bg)  # and some objects dimmed, as light garments photograph
    assert not torch.equal(out[0], out[1])  # each image its own warp
    again = PhotoAugment(bg, seed=0)(x)
    assert torch.equal(out, again)  # reproducible from the seed


def test_photo_augment_trains_and_names_its_runs(tmp_path):
    from bakeoff.cli import main

    assert main(["train", "--model", "mlp", "--epochs", "1", "--photo-augment", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "mlp_adam_lr0.001_noaug+photo_seed0" / "metrics.json").is_file()

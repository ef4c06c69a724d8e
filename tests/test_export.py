"""`bakeoff export`: ONNX and TorchScript files that answer as PyTorch does, or nothing written and exit 2."""
import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from bakeoff.cli import main
from bakeoff.models.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from bakeoff.models import create_model, list_models
from bakeoff.data.pixels import normalize
from bakeoff.serve import export
from bakeoff.serve.app import create_app
from bakeoff.serve.predictor import Predictor
from serve_fixtures import digit_photo, digits_comparison


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = digits_comparison(tmp_path_factory.mktemp("digits"))
    return out / "mlp_adam_lr0.001_noaug_seed0"


def calibrated_checkpoint(path, name: str, in_chans: int = 1, img_size: int = 8):
    """A registry model with random weights whose BatchNorm statistics fit its inputs, as training leaves them."""
    torch.manual_seed(0)
    kwargs = {"num_classes": 10, "in_chans": in_chans, "img_size": img_size}
    model = create_model(name, **kwargs)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # cumulative average over the calibration batches
    with torch.no_grad():
        model.train()
        for _ in range(3):
            model(torch.randn(32, in_chans, img_size, img_size))
    pre = {"dataset": "digits", "in_chans": in_chans, "img_size": img_size, "mean": [0.3] * in_chans,
           "std": [0.4] * in_chans, "background": "dark", "object_fill": 1.0}
    save_checkpoint(path, model.eval(), model_name=name, model_kwargs=kwargs, classes=[str(k) for k in range(10)],
                    preprocessing=pre, config={}, metrics={"test_acc": 0.5})
    return path


def reference_logits(ckpt_path, x):
    model = model_from_checkpoint(load_checkpoint(ckpt_path))
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def digits_inputs():
    from bakeoff.data import load_dataset

    ds = load_dataset("digits")
    return normalize(ds.x_test[:64], [0.3], [0.4]).numpy()  # the normalization does not matter for agreement


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_writes_a_checked_model_with_its_metadata(run_dir, fmt, capsys):
    assert main(["export", str(run_dir), "--format", fmt]) == 0
    out = capsys.readouterr().out
    path = run_dir / ("best.onnx" if fmt == "onnx" else "best.torchscript.pt")
    assert str(path) in out and "16 random inputs" in out and "256 digits test images" in out  # what was checked
    x = digits_inputs()
    expected = reference_logits(run_dir, x)
    if fmt == "onnx":
        session = export.onnx_session(path)
        meta = export.onnx_metadata(session)
        got = session.run(["logits"], {"input": x})[0]
    else:
        extra = {"bakeoff.json": ""}
        module = torch.jit.load(str(path), _extra_files=extra)
        meta = json.loads(extra["bakeoff.json"])
        with torch.no_grad():
            got = module(torch.from_numpy(x)).numpy()
    assert np.abs(got - expected).max() <= 1e-4
    ckpt = load_checkpoint(run_dir)
    assert meta["classes"] == ckpt["classes"] and meta["preprocessing"] == ckpt["preprocessing"]
    assert meta["model"] == "mlp" and meta["metrics"]["test_acc"] == ckpt["metrics"]["test_acc"]


def test_conv_and_batchnorm_models_export(tmp_path):
    ckpt = calibrated_checkpoint(tmp_path / "best.pt", "cnn4")  # conv, BatchNorm, pooling
    report = export.export_checkpoint(ckpt, "onnx")
    assert report["path"] == str(tmp_path / "best.onnx") and max(report["max_abs_diff"].values()) <= 1e-4


def test_a_disagreeing_export_fails_loudly_and_writes_nothing(run_dir, tmp_path, monkeypatch, capsys):
    honest = export.onnx_bytes

    def perturbed(model, ckpt):  # an exporter bug: one weight off by 1e-2
        bad = model_from_checkpoint(ckpt)
        with torch.no_grad():
            next(bad.parameters()).view(-1)[0] += 1e-2
        return honest(bad, ckpt)

    monkeypatch.setattr(export, "onnx_bytes", perturbed)
    dest = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(dest)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "onnx" in err and "0.0001" in err  # the format, the tolerance
    assert not dest.exists() and not list(tmp_path.iterdir())


def test_exported_onnx_serves_and_predicts_like_the_checkpoint(run_dir, tmp_path):
    export.export_checkpoint(run_dir, "onnx", out=tmp_path / "digits-mlp.onnx")
    photo = digit_photo(5)
    by_torch = Predictor.load([run_dir]).predict(photo, 10)["results"][0]["top_k"]
    for predictor in (Predictor.load([tmp_path / "digits-mlp.onnx"]), Predictor.load([run_dir], runtime="onnx")):
        assert predictor.models[0].runtime == "onnx"
        got = TestClient(create_app(predictor)).post("/v1/predict?top_k=10", content=photo).json()["results"][0]
        assert [t["label"] for t in got["top_k"]] == [t["label"] for t in by_torch]
        assert np.allclose([t["prob"] for t in got["top_k"]], [t["prob"] for t in by_torch], atol=1e-5)


def test_bad_export_input(run_dir, tmp_path, capsys):
    (tmp_path / "other.onnx").write_bytes(b"not onnx at all")
    cases = [
        (["export", str(run_dir), "--format", "tflite"], "unknown format 'tflite'; choose from: onnx, torchscript"),
        (["export", str(tmp_path / "missing.pt")], str(tmp_path / "missing.pt")),
        (["predict", str(tmp_path / "other.onnx"), str(tmp_path)], str(tmp_path / "other.onnx")),
    ]
    for args, expected in cases:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and expected in err, err


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_exports_within_tolerance(name, tmp_path):
    try:
        create_model(name, num_classes=10, in_chans=3, img_size=32)
    except Exception as e:  # a model for another input shape family
        pytest.skip(f"{name} does not build at 3x32x32: {e}")
    ckpt = calibrated_checkpoint(tmp_path / "best.pt", name, in_chans=3, img_size=32)
    for fmt in ("onnx", "torchscript"):
        report = export.export_checkpoint(ckpt, fmt)
        assert max(report["max_abs_diff"].values()) <= 1e-4, report

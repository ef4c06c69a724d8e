"""The model zoo's contracts, parametrized over the registry itself (timm's tests/test_models.py in small)."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn

from bakeoff.errors import ConfigError
from bakeoff.models import create_model, list_models, model_doc

MODELS = list_models()
SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]  # digits, (Fashion-)MNIST, CIFAR
FOLDER_SHAPES = [(1, 16, 16), (3, 48, 48), (3, 64, 64)]
NUM_CLASSES = 7  # not 10, so a hard-coded 10 shows
B = 2  # batch size; 2 so BatchNorm in train mode has more than one value per channel on a 1x1 map


def _light(name: str) -> dict:
    """Kwargs that shrink simple-cnn's flatten-sized dense layer (52M params at 3x32x32) where its size is not the point."""
    return {"hidden_dim": 64} if name == "simple-cnn" else {}


def _ids(shape: tuple[int, int, int]) -> str:
    return "x".join(map(str, shape))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_and_reset_classifier(name, shape):
    c, h, _ = shape
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=c, img_size=h)
    x = torch.randn(B, *shape)
    out = model(x)
    assert out.shape == (B, NUM_CLASSES)
    assert torch.isfinite(out).all()
    out.square().mean().backward()  # resnet110 at 3x32x32 included: ~1 s on 2 cores
    if hasattr(model, "reconstruct"):  # an autoencoder's decoder trains through reconstruct(), not forward()
        model.reconstruct(x).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    model.reset_classifier(5)
    assert model.num_classes == 5
    assert model.get_classifier().out_features == 5
    with torch.no_grad():
        assert model(x).shape == (B, 5)


@pytest.mark.parametrize("name", MODELS)
def test_features_head_and_pre_logits(name):
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=3, img_size=32, **_light(name)).eval()
    x = torch.randn(B, 3, 32, 32)
    with torch.no_grad():
        features = model.forward_features(x)
        logits = model.forward_head(features)
        embedding = model.forward_head(features, pre_logits=True)
        assert torch.equal(logits, model(x))
        assert embedding.shape == (B, model.num_features)
        model.reset_classifier(0)  # timm: 0 classes leaves the head returning features
        assert torch.equal(model(x), embedding)


@pytest.mark.parametrize("name", MODELS)
def test_bf16_autocast(name):
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=3, img_size=32, **_light(name))
    x = torch.randn(B, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.shape == (B, NUM_CLASSES)
    assert torch.isfinite(out.float()).all()
    out.float().square().mean().backward()
    if hasattr(model, "reconstruct"):  # the autoencoder's decoder
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model.reconstruct(x).float().square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_channels_last_matches_contiguous(name):
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=3, img_size=32, **_light(name)).eval()
    x = torch.randn(B, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    assert out.shape == (B, NUM_CLASSES)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", FOLDER_SHAPES, ids=_ids)
@pytest.mark.parametrize("name", MODELS)
def test_folder_sizes(name, shape):
    c, h, _ = shape
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=c, img_size=h, **_light(name)).eval()
    with torch.no_grad():
        out = model(torch.randn(B, *shape))
    assert out.shape == (B, NUM_CLASSES)


def _num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_simple_cnn_reproduces_seed_004_exactly():
    model = create_model("simple-cnn", num_classes=10, in_chans=1, img_size=28)
    assert _num_params(model) == 29_306_282  # the seed's Keras summary
    assert model.flatten_size == 13 * 13 * 32 == 5408
    assert model.pre_logits[0].out_features == 5408


@pytest.mark.parametrize(("shape", "flatten"), [((1, 8, 8), 3 * 3 * 32), ((3, 32, 32), 15 * 15 * 32)])
def test_simple_cnn_hidden_width_is_the_flatten_size(shape, flatten):
    c, h, _ = shape
    model = create_model("simple-cnn", num_classes=10, in_chans=c, img_size=h)
    assert model.flatten_size == flatten
    assert model.pre_logits[0].out_features == flatten


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        ("basic-cnn", (3, 32, 32), 122_570),  # TensorFlow's CIFAR-10 CNN tutorial
        ("basic-cnn", (1, 28, 28), 93_322),  # the same network on MNIST
        ("resnet20", (3, 32, 32), 269_722),  # He et al. 2016: 0.27M
        ("resnet110", (3, 32, 32), 1_727_962),  # He et al. 2016: 1.7M
    ],
)
def test_known_parameter_counts(name, shape, expected):
    c, h, _ = shape
    assert _num_params(create_model(name, num_classes=10, in_chans=c, img_size=h)) == expected


@pytest.mark.parametrize("name", list_models("resnet*"))
def test_resnet_depth_counts_weighted_layers(name):
    model = create_model(name, num_classes=10, in_chans=3, img_size=32)
    convs = [m for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and "downsample" not in n]
    linears = [model.get_classifier()]  # the paper's one fc; resnet50's transfer head adds a dense layer before it
    assert len(convs) + len(linears) == int(name.removeprefix("resnet"))


def test_small_inputs_fall_back_to_same_padding():
    assert create_model("basic-cnn", num_classes=10, in_chans=3, img_size=32).padding == "valid"
    assert create_model("basic-cnn", num_classes=10, in_chans=1, img_size=8).padding == "same"
    features = create_model("resnet20", num_classes=10, in_chans=1, img_size=8).forward_features(torch.randn(B, 1, 8, 8))
    assert features.shape == (B, 64, 2, 2)


def test_unknown_model_names_the_choices():
    with pytest.raises(ConfigError, match="unknown model 'resnt'") as err:
        create_model("resnt", num_classes=10, in_chans=1, img_size=28)
    for name in MODELS:
        assert name in str(err.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"num_classes": 0}, {"img_size": 0}, {"in_chans": 0}],
)
def test_bad_sizes_fail_loudly(kwargs):
    args = {"num_classes": 10, "in_chans": 1, "img_size": 28, **kwargs}
    with pytest.raises(ConfigError):
        create_model("cnn4", **args)


@pytest.mark.parametrize("name", MODELS)
def test_docstring_names_the_seed(name):
    assert re.search(r"[Ss]eed \d{3}|baseline|He et al|airbench|Tan & Le", model_doc(name)), model_doc(name)


@pytest.mark.parametrize("name", ["basic-cnn", "cnn4", "simple-cnn"])
def test_pool_before_relu_changes_nothing_but_speed(name):
    """The seed CNNs pool before their ReLU (cheaper); the seeds' conv -> ReLU -> pool order gives the same
    outputs and gradients."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=1, img_size=28).eval()  # eval: dropout off
    layers = list(model.features)
    swapped = [i for i in range(len(layers) - 1)
               if isinstance(layers[i], nn.MaxPool2d) and isinstance(layers[i + 1], nn.ReLU)]
    assert swapped, "expected pools right before ReLUs"
    seed_order = list(layers)
    for i in swapped:
        seed_order[i], seed_order[i + 1] = seed_order[i + 1], seed_order[i]
    x = torch.randn(8, 1, 28, 28)
    grads = []
    for features in (nn.Sequential(*layers), nn.Sequential(*seed_order)):
        model.zero_grad()
        model.features = features
        out = model(x)
        out.square().sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (out_a, grad_a), (out_b, grad_b) = grads
    assert torch.equal(out_a, out_b)
    assert all(torch.equal(a, b) for a, b in zip(grad_a, grad_b))


@pytest.mark.parametrize("name", MODELS)
def test_a_reset_head_has_the_keys_of_the_original(name):
    """Transfer between runs loads a source's state_dict into a model whose head was reset: same keys needed."""
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=1, img_size=28, **_light(name))
    before = set(model.state_dict())
    model.reset_classifier(3)
    assert set(model.state_dict()) == before
    assert model(torch.randn(B, 1, 28, 28)).shape == (B, 3)

"""Corruptions: deterministic per seed, stronger with severity, each doing what its name says; accuracy under them."""
import math

import pytest
import torch
import torch.nn as nn

from bakeoff.analysis.robustness import CORRUPTIONS, _affine, corrupt, measure, image_subset

RANDOM = ("gaussian_noise", "rotate", "shift")  # the corruptions that draw random numbers


def _images(n: int = 12, side: int = 16, channels: int = 1) -> torch.Tensor:
    """uint8 (N, C, H, W): a bright square off centre on a dark, gently textured background."""
    gen = torch.Generator().manual_seed(0)
    x = 40 + 20 * torch.rand(n, channels, side, side, generator=gen)
    x[:, :, 3:9, 4:10] = 220
    return x.round().to(torch.uint8)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_each_corruption_is_deterministic_per_seed(name):
    x = _images(channels=3)
    a, b = corrupt(x, name, 2, seed=0), corrupt(x, name, 2, seed=0)
    assert a.dtype == torch.uint8 and a.shape == x.shape
    assert torch.equal(a, b)
    if name in RANDOM:
        assert not torch.equal(a, corrupt(x, name, 2, seed=1))


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_each_corruption_grows_with_severity(name):
    x = _images()
    change = [(corrupt(x, name, s, seed=0).float() - x.float()).abs().mean().item() for s in (1, 2, 3)]
    assert 0 < change[0] < change[1] < change[2], change


def test_contrast_keeps_each_images_mean_and_brightness_adds_its_level():
    x = _images()
    low = corrupt(x, "contrast", 3, seed=0).float()
    assert torch.allclose(low.mean(dim=(1, 2, 3)), x.float().mean(dim=(1, 2, 3)), atol=1.0)
    assert low.std() < 0.1 * x.float().std()
    bright = corrupt(x, "brightness", 1, seed=0).int() - x.int()  # + 0.1 of the range, clipped at 255
    assert bright[x < 200].float().mean().item() == pytest.approx(25.5, abs=0.6)


def test_affine_rotates_by_a_quarter_turn_exactly_and_shifts_by_whole_pixels():
    x = torch.arange(36, dtype=torch.float32).view(1, 1, 6, 6)
    turned = _affine(x, angle=torch.tensor([math.pi / 2]), shift=torch.zeros(1, 2))
    assert any(torch.allclose(turned, torch.rot90(x, k, dims=(2, 3)), atol=1e-4) for k in (1, -1))
    moved = _affine(x, angle=torch.zeros(1), shift=torch.tensor([[2 / 6, 0.0]]))  # 2/6 of grid width 2 = 1 px
    assert torch.allclose(moved[..., :5], x[..., 1:], atol=1e-4)  # content moved one pixel left, edge repeated


def test_shift_moves_the_square_by_its_fraction_of_the_side():
    x = torch.zeros(8, 1, 20, 20, dtype=torch.uint8)
    x[:, :, 8:12, 8:12] = 255
    moved = corrupt(x, "shift", 3, seed=0).float()  # 0.2 of 20 px = 4 px on each axis, either way
    ys, xs = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
    mass = moved[:, 0].sum(dim=(1, 2))
    cy, cx = (moved[:, 0] * ys).sum(dim=(1, 2)) / mass, (moved[:, 0] * xs).sum(dim=(1, 2)) / mass
    assert torch.allclose((cy - 9.5).abs(), torch.full((8,), 4.0), atol=0.01)
    assert torch.allclose((cx - 9.5).abs(), torch.full((8,), 4.0), atol=0.01)


def test_subset_is_fixed_by_the_seed_and_capped():
    assert torch.equal(image_subset(50, seed=3, limit=100), torch.arange(50))
    a = image_subset(10_000, seed=3, limit=2000)
    assert len(a) == 2000 and torch.equal(a, image_subset(10_000, seed=3, limit=2000))
    assert torch.equal(a, a.sort().values) and not torch.equal(a, image_subset(10_000, seed=4, limit=2000))


class Brightness(nn.Module):
    """Class = how bright the image is (two classes, threshold at mid-grey of the normalized input)."""

    def forward(self, x):
        level = x.mean(dim=(1, 2, 3))
        return torch.stack([-level, level], 1) * 10


def test_measure_scores_every_corruption_and_severity_on_the_same_images():
    x = _images(n=20)
    x[10:] = (x[10:].int() + 30).clamp(max=255).to(torch.uint8)  # the second half brighter: class 1
    y = torch.tensor([0] * 10 + [1] * 10)
    mid = x.float().mean().item() / 255
    result = measure(Brightness(), x, y, mean=[mid], std=[1.0], seed=0, device=torch.device("cpu"), precision="fp32")
    assert result["clean_acc"] == 1.0 and result["n_images"] == 20
    assert set(result["accuracy"]) == set(CORRUPTIONS) and all(len(v) == 3 for v in result["accuracy"].values())
    assert result["accuracy"]["brightness"][2] == 0.5  # everything looks bright: all called class 1
    mean = sum(sum(v) for v in result["accuracy"].values()) / 21
    assert result["mean_corrupted_acc"] == pytest.approx(mean)
    assert result["relative_drop"] == pytest.approx(1 - mean)
    assert result["seconds"] > 0

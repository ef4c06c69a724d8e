"""Grad-CAM: it finds the patch that decides the class, agrees with torchcam, and every model has a layer or says so."""
import pytest
import torch
import torch.nn as nn

from bakeoff.analysis.cam import explain, grad_cam
from bakeoff.models import create_model, list_models

SIDE, PATCH = 16, 4


def patch_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x (N, 1, 16, 16) normalized-ish, y, patch corners (N, 2)): class 1 has a bright 4x4 patch somewhere on
    a noisy background, class 0 the background alone; nothing else tells them apart."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, SIDE, SIDE, generator=gen) - 0.5
    y = torch.arange(n) % 2
    corners = torch.randint(1, SIDE - PATCH - 1, (n, 2), generator=gen)
    for i in torch.nonzero(y == 1)[:, 0]:
        r, c = corners[i].tolist()
        x[i, :, r:r + PATCH, c:c + PATCH] = 2.0
    return x, y, corners


@pytest.fixture(scope="module")
def patch_model():
    """simple-cnn (one conv, so its map keeps 14x14 of resolution) trained until it tells the classes apart."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = create_model("simple-cnn", num_classes=2, in_chans=1, img_size=SIDE)
    x, y, _ = patch_images(512, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(50):
        idx = torch.arange(step * 64, (step + 1) * 64) % len(y)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    return model.eval()


def test_grad_cam_peaks_on_the_patch_that_decides_the_class(patch_model):
    x, y, corners = patch_images(64, seed=1)
    with torch.no_grad():
        assert (patch_model(x).argmax(1) == y).float().mean() > 0.95  # it learned the task
    maps, method = explain(patch_model, x[y == 1], torch.ones(int((y == 1).sum()), dtype=torch.long))
    assert method.startswith("Grad-CAM") and maps.shape == (32, SIDE, SIDE)
    assert float(maps.min()) >= 0 and float(maps.amax(dim=(1, 2)).min()) == pytest.approx(1.0)
    hits, inside_share = 0, []
    for cam, (r, c) in zip(maps, corners[y == 1].tolist()):
        peak_r, peak_c = divmod(int(cam.argmax()), SIDE)
        hits += (r - 1 <= peak_r <= r + PATCH) and (c - 1 <= peak_c <= c + PATCH)  # on the patch or its rim
        inside = cam[r:r + PATCH, c:c + PATCH].sum()
        inside_share.append(float(inside / cam.sum()))
    assert hits >= 0.9 * len(maps), hits
    assert sum(inside_share) / len(inside_share) > 3 * PATCH ** 2 / SIDE ** 2  # 3x the patch's share of the area


def test_a_model_without_convolutions_gets_input_gradients_and_says_so():
    model = create_model("mlp", num_classes=3, in_chans=1, img_size=8).eval()
    assert model.cam_layer() is None
    x = torch.randn(5, 1, 8, 8)
    maps, method = explain(model, x, torch.tensor([0, 1, 2, 0, 1]))
    assert method == "input gradients (no convolution)" and maps.shape == (5, 8, 8)
    assert float(maps.amax(dim=(1, 2)).min()) == pytest.approx(1.0)
    assert not model.training  # left as it was


@pytest.mark.parametrize("name", list_models())
def test_every_model_names_a_convolution_for_grad_cam_or_none(name):
    model = create_model(name, num_classes=4, in_chans=1, img_size=28)
    layer = model.cam_layer()
    if name == "mlp":
        assert layer is None
        return
    assert isinstance(layer, nn.Conv2d)
    assert model.training  # the probe does not leave the model in eval mode


def test_grad_cam_agrees_with_torchcam():
    methods = pytest.importorskip("torchcam.methods")
    torch.manual_seed(0)
    model = create_model("cnn4", num_classes=5, in_chans=1, img_size=SIDE).eval()  # conv -> BatchNorm: not in place
    layer = model.cam_layer()
    x, classes = torch.randn(4, 1, SIDE, SIDE), torch.tensor([0, 1, 2, 3])
    ours = grad_cam(model, layer, x, classes)
    with methods.GradCAM(model, target_layer=layer, input_shape=(1, SIDE, SIDE)) as extractor:
        scores = model(x)
        (theirs,) = extractor(class_idx=classes.tolist(), scores=scores, normalized=False)  # (B, h, w) after ReLU
    theirs = nn.functional.interpolate(theirs[:, None], size=(SIDE, SIDE), mode="bilinear", align_corners=False)[:, 0]
    theirs = theirs / theirs.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
    assert torch.allclose(ours, theirs, atol=1e-4)

"""Tiny trained models and synthetic photos for the serving tests (import: `from serve_fixtures import ...`)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from data_fixtures import write_npz

SHAPES = ["tall", "wide", "square"]  # a 28x28 light-on-dark dataset whose classes a photo can show


def train(out: Path, *args: str) -> Path:
    """`bakeoff compare ... --out OUT --quiet` in-process; returns OUT."""
    from bakeoff.cli import main

    assert main(["compare", *args, "--out", str(out), "--quiet"]) == 0
    return out


def digits_comparison(out: Path) -> Path:
    """Two MLPs on digits, one epoch each (~1 s): a comparison folder with two finished runs."""
    return train(out, "--models", "mlp", "--seeds", "0,1", "--epochs", "1")


def shape_image(kind: str, size: int, rng) -> np.ndarray:
    """A light shape on black, filling most of the frame, as Fashion-MNIST's products do."""
    a = np.zeros((size, size), dtype=np.float32)
    long_side, short_side = rng.integers(24, 28), rng.integers(8, 12)
    h, w = {"tall": (long_side, short_side), "wide": (short_side, long_side), "square": (long_side, long_side)}[kind]
    top, left = (size - h) // 2 + rng.integers(-1, 2), (size - w) // 2 + rng.integers(-1, 2)
    a[max(top, 0):top + h, max(left, 0):left + w] = rng.uniform(0.6, 1.0)
    return np.clip(a * 255 + rng.normal(0, 6, a.shape), 0, 255).astype(np.uint8)


def shapes_npz(path: Path, n: int = 240) -> Path:
    """arrays:PATH.npz with 28x28 light-on-dark shapes named like a fashion set: tall, wide, square."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % len(SHAPES)
    x = np.stack([shape_image(SHAPES[k], 28, rng) for k in y])
    return write_npz(path, x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4:], y[n * 3 // 4:], classes=SHAPES)


def shape_photo(kind: str, fmt: str = "JPEG", exif_rotate: bool = False) -> bytes:
    """A phone-style photo of a dark `kind` shape, off-centre on light paper."""
    rng = np.random.default_rng(1)
    h, w = 300, 400
    a = np.linspace(210, 240, w)[None, :] + rng.normal(0, 4, size=(h, w))
    oh, ow = {"tall": (160, 60), "wide": (60, 160), "square": (150, 150)}[kind]
    a[40:40 + oh, 50:50 + ow] = 35 + rng.normal(0, 5, size=(oh, ow))
    a = np.clip(a, 0, 255).astype(np.uint8)
    kwargs = {}
    if exif_rotate:  # stored sideways, with the tag that turns it back upright
        a = np.ascontiguousarray(np.rot90(a, k=1))
        exif = Image.Exif()
        exif[0x0112] = 6
        kwargs["exif"] = exif
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt, **kwargs)
    return buf.getvalue()


def digit_photo(index: int = 0) -> bytes:
    """scikit-learn digit `index` as dark ink on a light 120x100 'page', PNG bytes."""
    from sklearn.datasets import load_digits

    d = load_digits()
    ink = Image.fromarray(np.uint8(255 - d.images[index] * 255 / 16)).resize((64, 64), Image.Resampling.BILINEAR)
    page = Image.new("L", (120, 100), 235)
    page.paste(ink, (40, 20))
    buf = io.BytesIO()
    page.save(buf, "PNG")
    return buf.getvalue()


def untrained_mlp_run(run: Path, img_size: int, classes: list[str], mean: float, std: float,
                      dataset: str, metrics: dict | None = None) -> Path:
    """A run folder holding a grayscale MLP checkpoint with random weights (seed 0): for tests about files,
    memory and the server, not accuracy."""
    import torch

    from bakeoff.models import create_model
    from bakeoff.models.checkpoint import save_checkpoint

    kwargs = {"num_classes": len(classes), "in_chans": 1, "img_size": img_size}
    pre = {"dataset": dataset, "in_chans": 1, "img_size": img_size, "mean": [mean], "std": [std],
           "background": "dark", "object_fill": 1.0}
    torch.manual_seed(0)
    save_checkpoint(run / "best.pt", create_model("mlp", **kwargs), model_name="mlp", model_kwargs=kwargs,
                    classes=classes, preprocessing=pre, config={}, metrics=metrics or {})
    return run

"""One decoded image -> 8-bit pixels: the folder loader's steps, which serving repeats on photos.

Kept apart from the folder walk (folder.py) so that `bakeoff predict` and `serve` crop a photo with the very
function that cropped the training images, not a copy of it (data/photos/preprocess.py).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

RESAMPLE = Image.Resampling.LANCZOS  # antialiased when shrinking
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}  # 'P' palettes count as colour
# Modes `to_mode` turns into L or RGB faithfully; others (LAB, HSV, ...) would be silently wrong.
SUPPORTED_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
                   "I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def to_mode(im: Image.Image, gray: bool) -> Image.Image:
    """8-bit 'L' or 'RGB'; 16-bit and float grayscale are rescaled, not clipped as PIL's convert would,
    and transparency is composited on white (a cut-out reads as paper)."""
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        a = np.asarray(im, dtype=np.float32)
        if im.mode == "F" and a.size and a.max() <= 1.0:
            a = a * 255.0  # float images in 0..1
        elif im.mode != "F" and (im.mode.startswith("I;16") or (a.size and a.max() > 255)):
            a = a / 257.0  # 16-bit range 0..65535 onto 0..255
        im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return im.convert("L" if gray else "RGB")


def center_crop(im: Image.Image, size: int, gray: bool) -> np.ndarray:
    """uint8 (size, size) if `gray` else (size, size, 3): shorter side to `size`, centre square kept."""
    im = to_mode(im, gray)
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    # one resample of the centred square = resize the shorter side, then centre-crop
    return np.asarray(im.resize((size, size), RESAMPLE, box=(left, top, left + side, top + side)), dtype=np.uint8)

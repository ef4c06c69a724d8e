"""A photo -> what the model was trained on, driven by the checkpoint's `preprocessing` dict.

Two pipelines, chosen by the `background` the runner measured on the training images:

- object datasets (`background` 'dark' or 'light', grayscale: MNIST, Fashion-MNIST, digits), after how
  Fashion-MNIST itself was made from product photos (its README: trim the edges close to the background's
  colour, resize the longest edge, extend the shorter one centred, negate): upright (EXIF); each pixel
  as its colour difference from the background (read off the border and spread across the photo), so the
  object is bright on black whatever its colour and the backdrop's; trimmed to the object by rows and
  columns (thin straps and handles are kept); longest edge resized to the object's share of the side
  (`object_fill`: Fashion-MNIST all of it, MNIST 20 px of 28); the shorter edge extended, centred; for
  'light' datasets, inverted back to dark on white.
  An image that already is what the dataset holds (its size, its background) passes unchanged, so dataset
  images saved as files score as the tensors do. `crop=False` (`--no-crop`) keeps the whole frame.
- everything else (colour datasets, folders of photos): upright, the training mode (L or RGB),
  shorter side resized and centre-cropped to the training size by the folder loader's own function.

Both end as uint8 (H, W) or (H, W, 3) - what the model "sees" - then the dataset's normalization
(data/pixels.py, the function training uses).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..images import center_crop, RESAMPLE, to_mode
from ..registry import DATASETS
from .decode import MAX_PIXELS, PhotoError, open_photo  # noqa: F401  (decoding lives there; callers import here)
from .segment import object_mask

WORK_SIDE = 128  # object pipeline works at <= this many px (x4 a 28 px input): fast, still sharp enough
BORDER_BAND = 0.04  # share of the side sampled as the photo's border, to read its background
TRIM_DISTANCE = 0.05  # colour distance from the border (0..1) that counts as object: Fashion-MNIST's 5%
MIN_LINE = 2  # px: a row or column belongs to the object when this many of its pixels differ (a speck does not)
MIN_CONTRAST = 0.08  # brightest object pixel minus background below this: no object, keep the whole frame
IN_DOMAIN_BORDER = 0.1  # a dataset-sized image whose border is this close to the dataset's background passes


def model_view(im: Image.Image, pre: dict, crop: bool = True) -> np.ndarray:
    """What the model sees: uint8 (S, S) for 1 channel or (S, S, 3), S = the training img_size.

    `crop=False`: object datasets keep the whole frame instead of trimming it to the object."""
    size, gray = pre["img_size"], pre["in_chans"] == 1
    background, fill = pre.get("background"), pre.get("object_fill")
    if "background" not in pre and pre.get("dataset") in DATASETS:  # saved before the runner measured it
        background, fill = DATASETS[pre["dataset"]].domain  # what it measures now
    if gray and background in ("dark", "light"):
        return object_view(im, size, background, fill or 1.0, crop)
    return center_crop(im, size, gray)  # the folder loader's own preprocessing


def object_view(im: Image.Image, size: int, background: str, object_fill: float, crop: bool = True) -> np.ndarray:
    """Object bright on black (dark on white for 'light' sets), trimmed, resized, sharpened, centred; see above."""
    gray = to_mode(im, gray=True)
    if _in_domain(gray, size, background):
        return np.asarray(gray, dtype=np.uint8)
    colour = to_mode(im, gray=False)  # transparency on white, as the gray view
    scale = WORK_SIDE / max(gray.size)
    if scale < 1:  # area-average down first: the final resize then works on a small image
        work = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray, colour = gray.resize(work, Image.Resampling.BOX), colour.resize(work, Image.Resampling.BOX)
    dist, threshold = _difference(colour)
    mask = object_mask(colour, dist, threshold) if crop else None
    if mask is not None:  # the product as Fashion-MNIST shows it: negated gray, on black
        x = np.where(mask, 1 - np.asarray(gray, dtype=np.float32) / 255, 0)
        box = _box(mask)
    else:
        x = _intensity(dist, threshold)
        box = _box(dist > threshold) if crop else None
    if box is not None:
        left, top, right, bottom = box
        x = x[top:bottom, left:right]
    x = _fit(x, size, object_fill)
    if background == "light":
        x = 1 - x
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def _intensity(dist: np.ndarray, threshold: float) -> np.ndarray:
    """(H, W) 0..1: how far each pixel is from the background in colour, the background black.

    Colour difference, not brightness: a yellow shirt on a wooden floor of the same brightness would vanish
    in gray, and the sign does not matter (a dark coat on a white wall and a white shirt on a dark floor both
    come out bright, as Fashion-MNIST's products do). Chosen on clothing-photos' train/ folder, Fashion-MNIST
    fast-net-s and cnn4: 49.4% and 52.7% top-1, against 37.4% and 34.5% for inverted brightness (docs/real-photos.md)."""
    return np.clip((dist - threshold) / (1 - threshold), 0, 1)


def _in_domain(gray: Image.Image, size: int, background: str) -> bool:
    """Already a dataset image: the training size, and a border at the dataset's background (black or white)."""
    if gray.size != (size, size):
        return False
    border = _border(np.asarray(gray, dtype=np.float32) / 255)
    level = _quantile(border, 0.5)
    return level <= IN_DOMAIN_BORDER if background == "dark" else level >= 1 - IN_DOMAIN_BORDER


def _difference(colour: Image.Image) -> tuple[np.ndarray, float]:
    """(H, W) how far each pixel's colour is from the background, and the distance above which it is object.

    The background is read off the border band and spread across the photo linearly (each pixel between its
    row's left and right border and its column's top and bottom), so uneven light and a gradient backdrop
    stay background. (Fashion-MNIST trimmed by the corner colour; on clothing-photos' train/ folder the four
    corners spread bilinearly scored 6-9 points lower, one colour per side 3-4 points lower.) Distance is the
    largest channel difference; the threshold is 5% (Fashion-MNIST's trim) or the border's own spread
    (textured backgrounds), whichever is larger."""
    c = np.asarray(colour, dtype=np.float32) / 255  # (H, W, 3)
    h, w, _ = c.shape
    b = max(2, round(BORDER_BAND * min(h, w)))
    if h <= 2 * b or w <= 2 * b:
        return np.zeros((h, w), dtype=np.float32), 1.0
    fx = np.linspace(0, 1, w)[None, :, None]
    fy = np.linspace(0, 1, h)[:, None, None]
    left, right = np.median(c[:, :b], 1), np.median(c[:, -b:], 1)  # (H, 3) per row
    top, bottom = np.median(c[:b], 0), np.median(c[-b:], 0)  # (W, 3) per column
    background = (left[:, None] * (1 - fx) + right[:, None] * fx + top[None] * (1 - fy) + bottom[None] * fy) / 2
    dist = np.abs(c - background).max(2)  # (H, W)
    return dist, max(TRIM_DISTANCE, _background_level(_border(dist)))


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the object in `mask`, by rows and columns: a row or column is part of it
    when MIN_LINE of its pixels are, so a speck does not count and a strap two pixels wide does."""
    rows = np.flatnonzero(mask.sum(1) >= MIN_LINE)
    cols = np.flatnonzero(mask.sum(0) >= MIN_LINE)
    if not len(rows) or not len(cols):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _fit(x: np.ndarray, size: int, object_fill: float) -> np.ndarray:
    """Longest edge resized to object_fill x size, centred on a black size x size square. Not sharpened, though
    Fashion-MNIST was: on clothing-photos' train/ folder an unsharp mask (radius 1) cost 1-3 points."""
    h, w = x.shape
    long_side = max(1, round(size * object_fill))
    new = (max(1, round(w * long_side / max(h, w))), max(1, round(h * long_side / max(h, w))))  # (W, H)
    small = Image.fromarray(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)).resize(new, RESAMPLE)
    out = np.zeros((size, size), dtype=np.float32)
    top, left = (size - new[1]) // 2, (size - new[0]) // 2
    out[top:top + new[1], left:left + new[0]] = np.asarray(small, dtype=np.float32) / 255
    return out


def _border(a: np.ndarray) -> np.ndarray:
    """The pixels of a band around the edge, flattened."""
    h, w = a.shape
    b = max(1, round(BORDER_BAND * min(h, w)))
    return np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[b:-b, :b].ravel(), a[b:-b, -b:].ravel()])


def _background_level(border: np.ndarray) -> float:
    """The brightest the background gets: median + 3 robust sigmas (MAD), so noise and uneven light go
    black, while an object that touches the edge (a tight crop, a dataset image) does not raise it."""
    median = _quantile(border, 0.5)
    sigma = 1.4826 * _quantile(np.abs(border - median), 0.5)  # MAD -> std for Gaussian noise
    return min(median + 3 * sigma, _quantile(border, 0.9))


def _quantile(a: np.ndarray, q: float) -> float:
    """Nearest-rank quantile by partial sort: ~5x faster than np.percentile on these small arrays."""
    flat = a.ravel()
    k = min(flat.size - 1, int(q * (flat.size - 1) + 0.5))
    return float(np.partition(flat, k)[k])

"""Bytes or a file -> an upright PIL image no larger than preprocessing needs; photo formats only.

Memory is the limit that matters when decoding untrusted photos: a 150 KB PNG of 6,300 x 6,300 RGBA decodes to
159 MB, and every full-size copy after that (turning it upright, compositing transparency, gray and colour
views) cost as much again (~600 MB a request, measured). So, before any pixel is decoded, the header's size is
checked against MAX_PIXELS; JPEG decodes at 1/2..1/8 scale (libjpeg's draft); other formats are decoded once and
at once reduced by an integer factor (box average) to at least `min_side`, so every later step works on the
small image. `decode_bytes` tells the server what a photo will cost before it decodes it (app.py's budget).
"""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ...errors import BakeoffError, one_line
from ..images import SUPPORTED_MODES

# Decoders for photos, nothing else: Pillow would otherwise also try EPS/PS (Ghostscript runs on the upload where
# installed), PDF, PSD, ICO, SGI and a dozen more. JPEG's opener also reads MPO, how many cameras store JPEGs.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
FORMAT_NAMES = "PNG, JPEG, WebP, GIF, BMP, TIFF"
MAX_PIXELS = 40_000_000  # after JPEG draft decoding: a 40 Mpixel RGBA image decodes to 160 MB
MIN_SIDE = 512  # px: decoded no smaller than this (4 x the object pipeline's 128 px work side; 2 x a 256 px input)
BAND_ROWS = 64  # rows of the full-size photo reduced at a time
MAX_WORK_PIXELS = 4_000_000  # after reducing: more than any model input needs, and bounds every later step
REDUCIBLE = {"L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "F"}  # Image.reduce averages these correctly
CONVERT_FIRST = {"P": "RGB", "PA": "RGBA", "1": "L"}  # palette indices and bits cannot be averaged; colours can
ORIENTATION = 0x0112  # EXIF tag
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}


class PhotoError(BakeoffError):
    """An upload or file that is not a photo bakeoff can use; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 415):
        super().__init__(message)
        self.status = status


def open_photo(source: bytes | str | Path, max_pixels: int = MAX_PIXELS, name: str = "image",
               min_side: int = MIN_SIDE) -> Image.Image:
    """Decode a photo, the right way up, shrunk to no less than `min_side` on either side where it is larger;
    bad bytes, other formats, modes and decompression bombs raise PhotoError."""
    with _opened(source, name) as im:
        _draft(im, min_side)
        _check(im, max_pixels, name)
        im.seek(0)  # first frame of a GIF or multi-page TIFF
        im.load()  # the one full-size copy; TIFF turns itself upright here, PNG may keep EXIF after its pixels
        orientation = im.getexif().get(ORIENTATION, 1)  # read now: the reduced copy has no TIFF tags
        small = _reduced(im, min_side)
        method = TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
        return small.transpose(method) if method is not None else small


def decode_bytes(source: bytes, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> int:
    """About the most memory open_photo and preprocessing take for `source`, read from its header alone (no
    pixels decoded): the decoded frame (after JPEG's draft scaling) at 4 bytes a pixel, and ~5 working copies
    of what it is reduced to. PhotoError as open_photo would raise it."""
    with _opened(source, "upload") as im:
        _draft(im, min_side)
        _check(im, max_pixels, "upload")
        w, h = im.size
        factor = reduction(w, h, min_side) if im.mode in REDUCIBLE | set(CONVERT_FIRST) else 1
        return 4 * w * h + 5 * 4 * (w // factor) * (h // factor)


@contextlib.contextmanager
def _opened(source, name: str):
    """Image.open restricted to PHOTO_FORMATS; Pillow's many errors for bad data become one PhotoError naming
    the file, and its decompression-bomb warning an error. The file is closed after."""
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(fp, formats=PHOTO_FORMATS) as im:
                yield im
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise PhotoError(f"{name}: {one_line(e, limit=200)} (decompression-bomb guard)", status=422) from None
        except UnidentifiedImageError:
            raise PhotoError(f"{name}: not a photo bakeoff reads ({FORMAT_NAMES})") from None
        except FileNotFoundError:
            raise PhotoError(f"{name}: no such file", status=404) from None
        except (OSError, SyntaxError, ValueError, EOFError) as e:  # truncated or corrupt data
            raise PhotoError(f"{name}: broken image data ({one_line(e, limit=200)})") from None


def _draft(im: Image.Image, min_side: int) -> None:
    """JPEG: libjpeg decodes at 1/2..1/8 scale, keeping both sides >= min_side; other formats ignore it."""
    if im.format in ("JPEG", "MPO"):
        im.draft(im.mode, (min_side, min_side))


def _check(im: Image.Image, max_pixels: int, name: str) -> None:
    w, h = im.size
    if w * h > max_pixels:
        raise PhotoError(f"{name} is {w}x{h} = {w * h / 1e6:.0f} Mpixels; the limit is "
                         f"{max_pixels / 1e6:.0f} Mpixels (decompression-bomb guard)", status=422)
    if im.mode not in SUPPORTED_MODES:
        raise PhotoError(f"{name}: unsupported image mode '{im.mode}'; bakeoff reads {', '.join(SUPPORTED_MODES)}")


def reduction(w: int, h: int, min_side: int) -> int:
    """The integer factor a w x h photo is shrunk by: the largest that keeps both sides >= min_side, or more
    where that would leave over MAX_WORK_PIXELS (a 40:1 panorama), so every step after decoding stays small."""
    factor = max(1, min(w // min_side, h // min_side))
    while (w // factor) * (h // factor) > MAX_WORK_PIXELS:
        factor += 1
    return factor


def _reduced(im: Image.Image, min_side: int) -> Image.Image:
    """Decoded, then box-averaged by `reduction`: a new image, detached from the file; the decoded frame is the
    only full-size copy of the photo there ever is."""
    factor = reduction(im.width, im.height, min_side)
    if factor == 1 or im.mode not in REDUCIBLE | set(CONVERT_FIRST):
        im.load()  # small already, or 16-bit gray (reducing would misread it): kept whole
        return im.copy()
    return _reduce_in_bands(im, factor)


def _reduce_in_bands(im: Image.Image, factor: int) -> Image.Image:
    """im.reduce(factor), a band of rows at a time: Pillow premultiplies alpha into a full-size copy first
    (RGBA 6,300 x 6,300: +159 MB), as would converting a palette; a band costs ~1 MB. The last < factor rows
    and columns are dropped."""
    mode = CONVERT_FIRST.get(im.mode, im.mode)
    if im.mode == "P" and "transparency" in im.info:
        mode = "RGBA"
    out = Image.new(mode, (im.width // factor, im.height // factor))
    rows = factor * max(1, BAND_ROWS // factor)
    for top in range(0, out.height * factor, rows):
        band = im.crop((0, top, out.width * factor, min(top + rows, out.height * factor)))
        out.paste(band.convert(mode).reduce(factor), (0, top // factor))
    return out

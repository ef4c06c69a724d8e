"""Photos on disk for `bakeoff predict`: the ones named on the command line, and (--explain) what the model saw.

The pixels themselves are preprocess.py's business; this module only finds files and draws the picture.
"""
from __future__ import annotations

import glob
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..data.folder import (
    IMAGE_EXTS,  # what a folder dataset counts as images counts as photos here
)
from ..errors import BakeoffError
from ..files import atomic_write_bytes

EXPLAIN_HEIGHT = 224  # px: the photo and the (nearest-neighbour enlarged) model input, side by side


def expand_images(patterns: list[str]) -> list[Path]:
    """Files as given; folders -> their photos (recursively); globs the shell left unexpanded."""
    found: list[Path] = []
    for pattern in patterns:
        p = Path(pattern)
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            photos = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
            if not photos:
                raise BakeoffError(f"{p}: no photos in this folder ({', '.join(sorted(IMAGE_EXTS))})")
            found.extend(photos)
        elif glob.has_magic(pattern):
            matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True) if Path(m).is_file())
            if not matches:
                raise BakeoffError(f"{pattern}: no files match")
            found.extend(matches)
        else:
            raise BakeoffError(f"{pattern}: no such file or folder")
    return found


def write_explanation(path: Path, photo: Image.Image, view: np.ndarray, top: list[dict], cam: np.ndarray | None = None,
                      method: str = "") -> None:
    """The photo beside what the model saw (enlarged, pixel for pixel), captioned with its top guesses; with `cam`
    (H, W) in 0..1, a third panel: that view under the map of where the model looked (`method` names it)."""
    shown = photo.convert("RGB")
    shown = shown.resize((max(1, round(shown.width * EXPLAIN_HEIGHT / shown.height)), EXPLAIN_HEIGHT),
                         Image.Resampling.LANCZOS)
    seen = Image.fromarray(view).convert("RGB").resize((EXPLAIN_HEIGHT, EXPLAIN_HEIGHT), Image.Resampling.NEAREST)
    panels = [shown, seen] + ([heat_overlay(view, cam)] if cam is not None else [])
    gap, caption = 8, 36 + 16 * len(top)
    canvas = Image.new("RGB", (sum(p.width for p in panels) + gap * (len(panels) - 1), EXPLAIN_HEIGHT + caption),
                       "white")
    x = 0
    for panel in panels:
        canvas.paste(panel, (x, 0))
        x += panel.width + gap
    draw = ImageDraw.Draw(canvas)
    draw.text((4, EXPLAIN_HEIGHT + 4), f"photo | what the model saw ({view.shape[0]}x{view.shape[1]})"
              + (" | where it looked" if cam is not None else ""), fill="gray")
    if method:
        draw.text((4, EXPLAIN_HEIGHT + 20), f"map: {method}", fill="gray")
    for i, t in enumerate(top):
        draw.text((4, EXPLAIN_HEIGHT + 36 + 16 * i), f"{t['label']}: {100 * t['prob']:.1f}%", fill="black")
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    atomic_write_bytes(path, buf.getvalue())


def heat_overlay(view: np.ndarray, cam: np.ndarray) -> Image.Image:
    """The model's view in grey under a jet-coloured map (red: where the class score rose most), enlarged."""
    from matplotlib import colormaps

    grey = np.asarray(Image.fromarray(view).convert("L"), np.float32)[:, :, None] / 255  # (H, W, 1)
    heat = colormaps["jet"](np.clip(np.asarray(cam, np.float32), 0, 1))[:, :, :3]  # (H, W, 3)
    mixed = Image.fromarray((255 * (0.45 * grey + 0.55 * heat)).astype(np.uint8))
    return mixed.resize((EXPLAIN_HEIGHT, EXPLAIN_HEIGHT), Image.Resampling.NEAREST)


def unique_names(paths: list[Path]) -> list[str]:
    """One file name per photo, never two alike: its path below the photos' common folder, folders joined by
    '__' and the extension kept ('sub/a.png' -> 'sub__a_png'), numbered in the rare case that still collides."""
    paths = [p.absolute() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    names: list[str] = []
    taken: set[str] = set()
    for p in paths:
        rel = p.relative_to(root)
        base = "__".join([*rel.parent.parts, rel.stem]) + (f"_{rel.suffix[1:]}" if rel.suffix else "")
        name, n = base, 1
        while name.lower() in taken:  # 'A.png' and 'a.png' are one file on macOS and Windows
            n += 1
            name = f"{base}-{n}"
        taken.add(name.lower())
        names.append(name)
    return names


def explain_thumbnail(photo: Image.Image) -> Image.Image:
    """The photo as large as write_explanation draws it (twice its height, for a sharp resize there), in RGB:
    what `predict --explain` keeps of each photo while its batch is predicted."""
    shown = photo.convert("RGB")
    if shown.height <= 2 * EXPLAIN_HEIGHT:
        return shown
    scale = 2 * EXPLAIN_HEIGHT / shown.height
    return shown.resize((max(1, round(shown.width * scale)), 2 * EXPLAIN_HEIGHT), Image.Resampling.LANCZOS)

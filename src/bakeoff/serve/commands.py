"""`bakeoff predict`, `serve` and `export`, given parsed flags: resolve paths, call the library, print."""
from __future__ import annotations

import glob
import json
import os
import socket
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..errors import BakeoffError

PHOTO_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}  # compared lower-cased
EXPLAIN_HEIGHT = 224  # px: the photo and the (nearest-neighbour enlarged) model input, side by side


def expand_images(patterns: list[str]) -> list[Path]:
    """Files as given; folders -> their photos (recursively); globs the shell left unexpanded."""
    found: list[Path] = []
    for pattern in patterns:
        p = Path(pattern)
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            photos = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in PHOTO_EXTS)
            if not photos:
                raise BakeoffError(f"{p}: no photos in this folder ({', '.join(sorted(PHOTO_EXTS))})")
            found.extend(photos)
        elif glob.has_magic(pattern):
            matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True) if Path(m).is_file())
            if not matches:
                raise BakeoffError(f"{pattern}: no files match")
            found.extend(matches)
        else:
            raise BakeoffError(f"{pattern}: no such file or folder")
    return found


def predict_from_args(args) -> int:
    from .predictor import Predictor, find_checkpoints

    checkpoints = find_checkpoints(args.checkpoint)
    if len(checkpoints) > 1:
        raise BakeoffError(f"{args.checkpoint} holds {len(checkpoints)} runs; `bakeoff predict` takes one checkpoint "
                           f"or run folder (e.g. {checkpoints[0].parent}); `bakeoff serve` shows them all")
    if args.top_k < 1:
        raise BakeoffError(f"--top-k must be at least 1, got {args.top_k}")
    predictor = Predictor.load(checkpoints, runtime=args.runtime)
    images = expand_images(args.images)
    model = predictor.models[0]
    photos, views = [], []
    for path in images:  # every photo decoded first: a bad one stops the command before any output
        photo, view = predictor.views(path, model, name=str(path))
        photos.append(photo)
        views.append(view)
    results = predictor.predict_batch(views, model, min(args.top_k, len(model.classes)))
    if args.explain:
        out = Path(args.explain)
        for path, photo, view, top in zip(_unique_names(images), photos, views, results):
            write_explanation(out / f"{path}.png", photo, view, top)
    if args.json:
        for path, top in zip(images, results):
            print(json.dumps({"path": str(path), "top_k": top}))
    else:
        _print_table(model, images, results)
    if args.explain:
        print(f"wrote {len(images)} explanation{'s' * (len(images) != 1)} to {args.explain}", file=sys.stderr)
    return 0


def _print_table(model, images: list[Path], results: list[list[dict]]) -> None:
    from rich.console import Console
    from rich.table import Table

    k = max(len(r) for r in results)
    folder = Path(os.path.commonpath([p.parent.absolute() for p in images]))  # shown once, above short names
    table = Table(title=f"{model.name} ({model.model}) on photos in {folder}")
    table.add_column("image", no_wrap=True)
    for i in range(k):
        table.add_column(f"#{i + 1}")
    for path, top in zip(images, results):
        table.add_row(str(path.absolute().relative_to(folder)), *[f"{t['label']} {100 * t['prob']:.1f}%" for t in top])
    Console().print(table)


def _unique_names(paths: list[Path]) -> list[str]:
    """File stems, numbered where two photos share one."""
    names, seen = [], {}
    for p in paths:
        n = seen[p.stem] = seen.get(p.stem, 0) + 1
        names.append(p.stem if n == 1 else f"{p.stem}-{n}")
    return names


def write_explanation(path: Path, photo: Image.Image, view: np.ndarray, top: list[dict]) -> None:
    """The photo beside what the model saw (enlarged, pixel for pixel), captioned with its top guesses."""
    from ..runfolder import atomic_write_bytes

    shown = photo.convert("RGB")
    shown = shown.resize((max(1, round(shown.width * EXPLAIN_HEIGHT / shown.height)), EXPLAIN_HEIGHT),
                         Image.Resampling.LANCZOS)
    seen = Image.fromarray(view).convert("RGB").resize((EXPLAIN_HEIGHT, EXPLAIN_HEIGHT), Image.Resampling.NEAREST)
    gap, caption = 8, 20 + 16 * len(top)
    canvas = Image.new("RGB", (shown.width + gap + EXPLAIN_HEIGHT, EXPLAIN_HEIGHT + caption), "white")
    canvas.paste(shown, (0, 0))
    canvas.paste(seen, (shown.width + gap, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, EXPLAIN_HEIGHT + 4), f"photo | what the model saw ({view.shape[0]}x{view.shape[1]})", fill="gray")
    for i, t in enumerate(top):
        draw.text((4, EXPLAIN_HEIGHT + 20 + 16 * i), f"{t['label']}: {100 * t['prob']:.1f}%", fill="black")
    import io

    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    atomic_write_bytes(path, buf.getvalue())


def serve_from_args(args) -> int:
    import torch

    from .app import run_server
    from .predictor import Predictor

    if args.max_upload_mb <= 0:
        raise BakeoffError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    _check_port_free(args.host, args.port)
    predictor = Predictor.load(args.paths, runtime=args.runtime, threads=args.threads)
    names = ", ".join(m.name for m in predictor.models[:5]) + (" ..." if len(predictor.models) > 5 else "")
    print(f"loaded {len(predictor.models)} model{'s' * (len(predictor.models) != 1)} ({args.runtime}): {names}")
    print(f"serving on http://{args.host}:{args.port}/  (API docs at /docs; Ctrl-C stops)", flush=True)
    torch.set_num_threads(args.threads)  # per request, set last: a failed start must not leak it
    run_server(predictor, args.host, args.port, max_upload=int(args.max_upload_mb * 1024 * 1024))
    return 0


def _check_port_free(host: str, port: int) -> None:
    """A taken port is one line now, not a uvicorn traceback after the models have loaded."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise BakeoffError(f"cannot listen on {host}:{port} ({e.strerror}); pick another with --port") from None


def export_from_args(args) -> int:
    from .export import export_checkpoint

    r = export_checkpoint(args.checkpoint, args.format, out=args.out, data_dir=args.data_dir)
    checks = ", ".join(f"{d:.1e} on {name}" for name, d in r["max_abs_diff"].items())
    print(f"wrote {r['path']} ({r['format']}, {r['bytes'] / 1e6:.2f} MB); max |logit difference| vs PyTorch: "
          f"{checks} (tolerance {r['tolerance']:g})")
    if len(r["max_abs_diff"]) == 1:
        print("  the training dataset's files were not found here, so only random inputs were checked; "
              "pass --data-dir to check real test images too", file=sys.stderr)
    return 0

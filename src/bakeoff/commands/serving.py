"""Commands that use trained models: predict (photos on the command line), serve (the web app), export."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..analysis.cam import explain
from ..data.photos.preprocess import PhotoError
from ..data.pixels import normalize_images
from ..errors import BakeoffError
from ..models.checkpoint import load_checkpoint, model_from_checkpoint
from ..serve.app import check_port_free, run_server
from ..serve.batching import check_batching
from ..serve.export import export_checkpoint
from ..serve.outputs import check_folder, writing
from ..serve.photos import (
    expand_images,
    explain_thumbnail,
    unique_names,
    write_explanation,
)
from ..serve.predictor import find_checkpoints, Predictor
from .flag_checks import (
    check_decode_memory_mb,
    check_port,
    check_threads,
    check_upload_mb,
)

PREDICT_BATCH = 64  # photos decoded, predicted and written at a time: 200 phone photos once held 835 MB


def cmd_predict(args) -> int:
    """Classify photos with one model: a table, or JSON lines; --explain draws what the model saw."""
    checkpoints = find_checkpoints(args.checkpoint)
    if len(checkpoints) > 1:
        raise BakeoffError(f"{args.checkpoint} holds {len(checkpoints)} runs; `bakeoff predict` takes one checkpoint "
                           f"or run folder (e.g. {checkpoints[0].parent}); `bakeoff serve` shows them all")
    if args.top_k < 1:
        raise BakeoffError(f"--top-k must be at least 1, got {args.top_k}")
    predictor = Predictor.load(checkpoints, runtime=args.runtime, crop=not args.no_crop,
                               calibrated_probs=args.calibrated)
    images = expand_images(args.images)
    model = predictor.models[0]
    k = min(args.top_k, len(model.classes))
    explain = Path(args.explain) if args.explain else None
    if explain:
        check_folder(explain)  # before the first photo: a file there, or no permission, is one line now
    names = unique_names(images) if explain else [None] * len(images)  # over all photos: batches never collide
    rows, written = [], 0
    for start in range(0, len(images), PREDICT_BATCH):  # decode, predict, write a batch: memory of one batch
        batch = _decoded(predictor, model, images[start:start + PREDICT_BATCH], names[start:start + PREDICT_BATCH],
                         alone=len(images) == 1, thumbnails=explain is not None)
        if not batch:
            continue
        paths, photos, views, batch_names = zip(*batch)
        results = predictor.predict_batch(list(views), model, k)
        if explain:
            maps, method = _where_it_looked(checkpoints[0], model, list(views), results)
            for name, photo, view, top, cam in zip(batch_names, photos, views, results, maps):
                with writing(explain / f"{name}.png"):
                    write_explanation(explain / f"{name}.png", photo, view, top, cam=cam, method=method)
                written += 1
        if args.json:
            for path, top in zip(paths, results):
                print(json.dumps({"path": str(path), "top_k": top}), flush=True)
        rows += zip(paths, results)
    if not rows:
        raise BakeoffError(f"none of the {len(images)} file(s) given is a photo bakeoff can read")
    if not args.json:
        _print_predictions(model, [p for p, _ in rows], [r for _, r in rows])
    if explain:
        print(f"wrote {written} explanation{'s' * (written != 1)} to {args.explain}", file=sys.stderr)
    return 0


def _decoded(predictor, model, paths: list[Path], names: list, alone: bool, thumbnails: bool) -> list[tuple]:
    """(path, photo or None, view, name) for each readable photo; one that is not is skipped and named, as folders
    do (unless it is the only one). With `thumbnails` the photo is kept only as large as --explain draws it."""
    decoded = []
    for path, name in zip(paths, names):
        try:
            photo, view = predictor.views(path, model, name=str(path))
        except PhotoError as e:
            if alone:
                raise
            print(f"bakeoff: warning: skipped {e}", file=sys.stderr)
            continue
        decoded.append((path, explain_thumbnail(photo) if thumbnails else None, view, name))
    return decoded


def _where_it_looked(path: Path, model, views: list, results: list[list[dict]]) -> tuple[list, str]:
    """Per view, the map of why the model chose its top class (analysis/cam.py), and the method's name."""
    if path.suffix == ".onnx":
        return [None] * len(views), "no map: an exported .onnx file has no gradients; explain its run's best.pt"
    import torch

    net = model_from_checkpoint(load_checkpoint(path))
    pre = model.preprocessing
    x = torch.from_numpy(normalize_images(views, pre["mean"], pre["std"]))  # (B, C, H, W), as the model saw them
    top = torch.tensor([model.classes.index(r[0]["label"]) for r in results])
    maps, method = explain(net, x, top)
    return list(maps.numpy()), method


def _print_predictions(model, images: list[Path], results: list[list[dict]]) -> None:
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


def cmd_serve(args) -> int:
    """Load every model named, then serve the web page and the HTTP API until Ctrl-C."""
    import torch

    check_port(args.port)
    check_threads(args.threads)
    check_upload_mb(args.max_upload_mb)
    check_decode_memory_mb(args.decode_memory_mb)
    check_batching(args.batch_window_ms, args.max_batch)
    check_port_free(args.host, args.port)
    predictor = Predictor.load(args.paths, runtime=args.runtime, threads=args.threads, crop=not args.no_crop,
                               calibrated_probs=args.calibrated)
    names = ", ".join(m.name for m in predictor.models[:5]) + (" ..." if len(predictor.models) > 5 else "")
    print(f"loaded {len(predictor.models)} model{'s' * (len(predictor.models) != 1)} ({args.runtime}): {names}")
    print(f"serving on http://{args.host}:{args.port}/  (API docs at /docs; Ctrl-C stops)", flush=True)
    torch.set_num_threads(args.threads)  # per request, set last: a failed start must not leak it
    run_server(predictor, args.host, args.port, max_upload=int(args.max_upload_mb * 1024 * 1024),
               memory=int(args.decode_memory_mb * 1024 * 1024), allowed_hosts=tuple(args.allow_host),
               batch_window_ms=args.batch_window_ms, max_batch=args.max_batch)
    return 0


def cmd_export(args) -> int:
    """Write an ONNX or TorchScript file checked against PyTorch, and print how closely it agrees."""
    r = export_checkpoint(args.checkpoint, args.format, out=args.out, data_dir=args.data_dir, force=args.force)
    checks = ", ".join(f"{d:.1e} on {name}" for name, d in r["max_abs_diff"].items())
    print(f"wrote {r['path']} ({r['format']}, {r['bytes'] / 1e6:.2f} MB); max |logit difference| vs PyTorch: "
          f"{checks} (tolerance {r['tolerance']:g})")
    if len(r["max_abs_diff"]) == 1:
        print("  the training dataset's files were not found here, so only random inputs were checked; "
              "pass --data-dir to check real test images too", file=sys.stderr)
    return 0

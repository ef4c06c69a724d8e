"""Commands that use trained models: predict (photos on the command line), serve (the web app), export."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..errors import BakeoffError


def cmd_predict(args) -> int:
    """Classify photos with one model: a table, or JSON lines; --explain draws what the model saw."""
    from ..serve.photos import expand_images, unique_names, write_explanation
    from ..serve.predictor import Predictor, find_checkpoints
    from ..serve.preprocess import PhotoError

    checkpoints = find_checkpoints(args.checkpoint)
    if len(checkpoints) > 1:
        raise BakeoffError(f"{args.checkpoint} holds {len(checkpoints)} runs; `bakeoff predict` takes one checkpoint "
                           f"or run folder (e.g. {checkpoints[0].parent}); `bakeoff serve` shows them all")
    if args.top_k < 1:
        raise BakeoffError(f"--top-k must be at least 1, got {args.top_k}")
    predictor = Predictor.load(checkpoints, runtime=args.runtime, crop=not args.no_crop)
    images = expand_images(args.images)
    model = predictor.models[0]
    photos, views, readable = [], [], []
    for path in images:  # every photo decoded first; one that cannot be is skipped and named, as folders do
        try:
            photo, view = predictor.views(path, model, name=str(path))
        except PhotoError as e:
            if len(images) == 1:
                raise
            print(f"bakeoff: warning: skipped {e}", file=sys.stderr)
            continue
        photos.append(photo)
        views.append(view)
        readable.append(path)
    if not readable:
        raise BakeoffError(f"none of the {len(images)} file(s) given is a photo bakeoff can read")
    images = readable
    results = predictor.predict_batch(views, model, min(args.top_k, len(model.classes)))
    if args.explain:
        for name, photo, view, top in zip(unique_names(images), photos, views, results):
            write_explanation(Path(args.explain) / f"{name}.png", photo, view, top)
    if args.json:
        for path, top in zip(images, results):
            print(json.dumps({"path": str(path), "top_k": top}))
    else:
        _print_predictions(model, images, results)
    if args.explain:
        print(f"wrote {len(images)} explanation{'s' * (len(images) != 1)} to {args.explain}", file=sys.stderr)
    return 0


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

    from ..serve.app import check_port_free, run_server
    from ..serve.predictor import Predictor

    if args.max_upload_mb <= 0:
        raise BakeoffError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    check_port_free(args.host, args.port)
    predictor = Predictor.load(args.paths, runtime=args.runtime, threads=args.threads, crop=not args.no_crop)
    names = ", ".join(m.name for m in predictor.models[:5]) + (" ..." if len(predictor.models) > 5 else "")
    print(f"loaded {len(predictor.models)} model{'s' * (len(predictor.models) != 1)} ({args.runtime}): {names}")
    print(f"serving on http://{args.host}:{args.port}/  (API docs at /docs; Ctrl-C stops)", flush=True)
    torch.set_num_threads(args.threads)  # per request, set last: a failed start must not leak it
    run_server(predictor, args.host, args.port, max_upload=int(args.max_upload_mb * 1024 * 1024))
    return 0


def cmd_export(args) -> int:
    """Write an ONNX or TorchScript file checked against PyTorch, and print how closely it agrees."""
    from ..serve.export import export_checkpoint

    r = export_checkpoint(args.checkpoint, args.format, out=args.out, data_dir=args.data_dir)
    checks = ", ".join(f"{d:.1e} on {name}" for name, d in r["max_abs_diff"].items())
    print(f"wrote {r['path']} ({r['format']}, {r['bytes'] / 1e6:.2f} MB); max |logit difference| vs PyTorch: "
          f"{checks} (tolerance {r['tolerance']:g})")
    if len(r["max_abs_diff"]) == 1:
        print("  the training dataset's files were not found here, so only random inputs were checked; "
              "pass --data-dir to check real test images too", file=sys.stderr)
    return 0

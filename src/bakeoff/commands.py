"""What each subcommand does, given parsed flags: flags become configs, the library runs, results are printed.

cli.py only parses; COMMANDS (at the bottom) maps each subcommand to its function here, which returns the
exit status. The heavy libraries (torch, the report, the web server) load inside the functions that use them.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from .config import GRID_AXES, GridConfig, RunConfig, load_grid_file, parse_list
from .errors import BakeoffError, ConfigError
from .recipes import recipe_options
from .runfolder import file_safe

# Flag names shared by `compare` and `train` that map one-to-one onto RunConfig fields.
RUN_FIELDS = [f.name for f in fields(RunConfig)]
GRID_CASTS = {"models": str, "optimizers": str, "lrs": float, "seeds": int, "augment": bool}


# ---- flags -> configs ----------------------------------------------------------------------------------------

def grid_from_args(args) -> tuple[GridConfig, Path]:
    """`compare`: defaults < recipe (--recipe) < grid YAML (-c) < flags given on the command line."""
    options = load_grid_file(args.config) if getattr(args, "config", None) else {}
    options.update(_given(args, list(GRID_AXES) + RUN_FIELDS + ["out"]))
    return _grid(options)


def one_run_from_args(args) -> tuple[GridConfig, Path]:
    """`train`: a grid of one run, whose single-item axes are --model, --optimizer, --lr, --seed, --augment."""
    options = _given(args, RUN_FIELDS + ["out"])
    for axis, single in GRID_AXES.items():
        if single in options:
            options[axis] = [options.pop(single)]
    return _grid(options, default_models=[RunConfig.model])


def _grid(options: dict, default_models: list[str] | None = None) -> tuple[GridConfig, Path]:
    """The grid and its output folder from flat options (grid axes as lists, RunConfig fields, out)."""
    options = {**_recipe_defaults(options), **options}
    if default_models and "models" not in options:
        options["models"] = default_models  # one run's default model, not GridConfig's five
    if options.get("weights") is not None and options.get("pretrained", "none") == "none":
        options["pretrained"] = "imagenet"  # a local ImageNet weight file stands in for the download
    out = options.pop("out", None)
    axes = {k: _as_list(k, options.pop(k)) for k in list(GRID_AXES) if k in options}
    base = {k: v for k, v in options.items() if k in RUN_FIELDS and k not in GRID_AXES.values()}
    grid = GridConfig(**axes, base=base)
    dataset = base.get("dataset", RunConfig.dataset)
    return grid, Path(out) if out else default_out(dataset)


def _recipe_defaults(options: dict) -> dict:
    """What the chosen recipe sets for the chosen dataset; a single --lr/--seed etc. becomes a grid axis."""
    preset = recipe_options(options.get("recipe", RunConfig.recipe), options.get("dataset", RunConfig.dataset))
    for single, axis in (("optimizer", "optimizers"), ("lr", "lrs"), ("augment", "augment")):
        if single in preset:
            value = preset.pop(single)
            preset[axis] = [value]
    return preset


def _given(args, names) -> dict:
    """The flags the user actually gave (argparse defaults are None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _as_list(key: str, value) -> list:
    cast = GRID_CASTS[key]
    if isinstance(value, list):
        items = value
    elif isinstance(value, str) and cast is not bool:
        return parse_list(value, cast)
    else:
        items = [value]
    try:
        return [_to_bool(v) if cast is bool else cast(v) for v in items]
    except (TypeError, ValueError):
        raise ConfigError(f"cannot read {key}: {value!r} as a list of {cast.__name__}") from None


def _to_bool(v) -> bool:
    if isinstance(v, bool):
        return v
    if str(v).lower() in ("true", "yes", "1", "on"):
        return True
    if str(v).lower() in ("false", "no", "0", "off"):
        return False
    raise ValueError(v)


def default_out(dataset: str) -> Path:
    """runs/<dataset>, with `folder:PATH` and `arrays:PATH` made into a safe folder name."""
    return Path("runs") / file_safe(dataset)


# ---- training: compare, train, report -------------------------------------------------------------------------

def cmd_compare(args) -> int:
    """Train the grid (finished runs are skipped), print the leaderboard; --open shows the report."""
    from .executors import make_executor

    grid, out = grid_from_args(args)
    grid.runs()  # a bad option fails here, before a cluster is started
    executor = make_executor(args.executor, args.ray_address, args.cpus_per_run, args.gpus_per_run)
    status = _until_signal(lambda: _run_grid(grid, out, args.quiet, executor, args.real_photos, args.class_map))
    if status == 0 and args.open:
        open_in_browser(out / "report.html")
    return status


def cmd_train(args) -> int:
    """Train one run, here or (--distributed, under torchrun) across processes."""
    grid, out = one_run_from_args(args)
    if args.distributed:
        return _until_signal(lambda: _train_distributed(grid.runs()[0], out, args.quiet))
    return _until_signal(lambda: _run_grid(grid, out, args.quiet))


def _run_grid(grid: GridConfig, out: Path, quiet: bool, executor=None, real_photos: str | None = None,
              class_map: str | None = None) -> None:
    """Run the grid and print its leaderboard."""
    from rich.console import Console

    from .compare import run_grid
    from .leaderboard import print_leaderboard

    rows = run_grid(grid, out, quiet=quiet, executor=executor, real_photos=real_photos, class_map=class_map)
    dataset = grid.base.get("dataset", RunConfig.dataset)
    print_leaderboard(rows, title=f"bakeoff leaderboard: {dataset} (sorted by validation accuracy)", console=Console())


def _train_distributed(cfg: RunConfig, out: Path, quiet: bool) -> None:
    from .ddp import train_distributed

    metrics = train_distributed(cfg, out, quiet=quiet)
    if metrics is not None:  # rank 0 reports; the other ranks stay quiet
        print(f"{metrics['run_id']} on {metrics['world_size']} processes: test accuracy "
              f"{100 * metrics['test_acc']:.2f}%, written to {out}")


def _until_signal(run) -> int:
    """Train; SIGINT/SIGTERM end it after the current step with exit status 130/143."""
    from .engine.interrupt import Interrupted, graceful_signals

    try:
        with graceful_signals():
            run()
    except Interrupted as e:
        print(f"bakeoff: {e}; finished runs are kept and the same command resumes the rest", file=sys.stderr)
        return e.exit_code
    return 0


def cmd_report(args) -> int:
    """Rebuild report.html and report.md from the run folders alone; nothing is trained."""
    from .report import build_report

    path = build_report(Path(args.out))
    if args.open:
        open_in_browser(path)
    print(f"report: {path}")
    return 0


def open_in_browser(path: Path) -> None:
    """Open a local file in the web browser, or say where it is when there is none."""
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        print(f"bakeoff: no web browser found; open {path} yourself", file=sys.stderr)


# ---- looking: evaluate, models, datasets ----------------------------------------------------------------------

def cmd_evaluate(args) -> int:
    """Print a checkpoint's test accuracy and loss (--json: one object); --real-photos scores finished runs
    (a run folder, or every run of a comparison folder) on a folder of real photos instead."""
    if args.real_photos:
        return _evaluate_real_photos(Path(args.checkpoint), args.real_photos, args.class_map, args.json)
    result = evaluate_checkpoint(args.checkpoint, args.dataset, args.data_dir, args.img_size, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['checkpoint']} on {result['dataset']} test ({result['n_test']} images): "
              f"accuracy {100 * result['test_acc']:.2f}%, loss {result['test_loss']:.4f}")
    return 0


def _evaluate_real_photos(path: Path, photos: str, class_map: str | None, as_json: bool) -> int:
    """Score finished runs on real photos, no retraining; a comparison's leaderboard and report are rewritten."""
    from .serve.real_photos import score_comparison

    say = (lambda line: print(line, file=sys.stderr))
    if (path / "grid.json").is_file():
        from .leaderboard import write_leaderboard
        from .report import build_report, collect
        from .runlock import run_lock

        cmp = collect(path)
        if not score_comparison([r.dir for r in cmp.runs], photos, class_map, cmp.classes, say):
            raise BakeoffError(f"{path}: no finished run to score")
        cmp = collect(path)  # again: the runs' metrics now hold their real-photo accuracy
        with run_lock(path / ".lock", wait=True):
            write_leaderboard(cmp.rows, path)
        build_report(path)
        runs = [(r.run_id, r.metrics) for r in cmp.runs if r.finished]
    else:
        from .models.checkpoint import checkpoint_path, load_checkpoint

        run_dir = checkpoint_path(path).parent
        score_comparison([run_dir], photos, class_map, load_checkpoint(run_dir)["classes"], say)
        from .runfolder import read_status

        runs = [(run_dir.name, read_status(run_dir) or {})]
    for name, m in runs:
        if "real_acc" not in m:
            continue
        if as_json:
            print(json.dumps({"run": name, "real_acc": m["real_acc"], "n_real": m["n_real"], "real_photos": photos}))
        else:
            print(f"{name}: {100 * m['real_acc']:.2f}% of {m['n_real']} real photos")
    return 0


def evaluate_checkpoint(checkpoint: str, dataset: str | None = None, data_dir: str | None = None,
                        img_size: int | None = None, device: str = "auto") -> dict:
    """Test-split loss and accuracy of a checkpoint, fed exactly as it was trained (default: on its dataset)."""
    from .data import load_dataset
    from .data.pixels import normalize
    from .engine.device import resolve_device, resolve_precision
    from .engine.loop import Split, evaluate, uses_tta
    from .models.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(checkpoint)
    pre = ckpt["preprocessing"]
    dataset = dataset or pre["dataset"]
    ds = load_dataset(dataset, data_dir=data_dir, img_size=img_size or pre["img_size"], quiet=True)
    if (ds.in_chans, ds.img_size) != (pre["in_chans"], pre["img_size"]):
        raise ConfigError(f"{dataset} images are {ds.in_chans}x{ds.img_size}x{ds.img_size} but the model was trained "
                          f"on {pre['in_chans']}x{pre['img_size']}x{pre['img_size']} ({pre['dataset']})")
    if ds.num_classes != len(ckpt["classes"]):
        raise ConfigError(f"{dataset} has {ds.num_classes} classes but the model predicts {len(ckpt['classes'])}")
    renamed = [(a, b) for a, b in zip(ckpt["classes"], ds.classes) if a != b]
    if renamed:  # same number of classes, other names: label i is scored as the model's class i all the same
        a, b = renamed[0]
        print(f"bakeoff: warning: {dataset}'s classes are not the model's ({len(renamed)} of {ds.num_classes} "
              f"differ, e.g. label {ds.classes.index(b)} is '{b}' there, '{a}' for the model); scored by "
              f"label number", file=sys.stderr)
    dev = resolve_device(device)
    model = model_from_checkpoint(ckpt).to(dev)
    test = Split(normalize(ds.x_test, pre["mean"], pre["std"]).to(dev), ds.y_test.to(dev))
    tta = uses_tta(ckpt.get("config", {}).get("tta", False), pre["dataset"])  # scored as training scored it
    result = evaluate(model, test, dev, resolve_precision("auto", dev), tta=tta)
    return {"checkpoint": str(checkpoint), "dataset": dataset, "n_test": len(test),
            "test_acc": result.acc, "test_loss": result.loss}


def cmd_models(args) -> int:
    """Print every registered model's parameters and MFLOPs at a dataset's input shape."""
    from rich.console import Console
    from rich.table import Table

    dataset = args.dataset or RunConfig.dataset
    (in_chans, img_size, num_classes), rows = model_table(dataset, args.data_dir)
    table = Table(title=f"models for {dataset} ({in_chans}x{img_size}x{img_size}, {num_classes} classes)")
    for col in ("model", "params", "MFLOPs", "what it is"):
        table.add_column(col, justify="right" if col in ("params", "MFLOPs") else "left")
    for r in rows:
        table.add_row(r["model"], f"{r['params']:,}", f"{r['mflops']:.2f}", r["doc"])
    Console().print(table)
    return 0


def model_table(dataset: str, data_dir: str | None) -> tuple[tuple[int, int, int], list[dict]]:
    """(in_chans, img_size, num_classes) of the dataset and each model's size at that shape."""
    from .data.registry import DATASETS, builtin_name
    from .engine.metrics import count_params, forward_mflops
    from .models import create_model, list_models, model_doc

    name = builtin_name(dataset)
    if name is not None:  # a built-in's shape is in the table: no data files needed
        info = DATASETS[name]
        shape = (info.in_chans, info.img_size, info.num_classes)
    else:
        from .data import load_dataset

        ds = load_dataset(dataset, data_dir=data_dir, quiet=True)
        shape = (ds.in_chans, ds.img_size, ds.num_classes)
    in_chans, img_size, num_classes = shape
    rows = []
    for model_name in list_models():
        model = create_model(model_name, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
        rows.append({"model": model_name, "params": count_params(model),
                     "mflops": forward_mflops(model, in_chans, img_size), "doc": model_doc(model_name)})
    return shape, rows


def cmd_datasets(args) -> int:
    """Print each built-in dataset, whether its files were found, and where (or how to get them)."""
    from .data import describe_datasets

    for d in describe_datasets(args.data_dir):
        mark = "found" if d["found"] else "missing"
        print(f"{d['name']:<14} {mark:<8} {d['where']}")
    return 0


# ---- serving: predict, serve, export --------------------------------------------------------------------------

def cmd_predict(args) -> int:
    """Classify photos with one model: a table, or JSON lines; --explain draws what the model saw."""
    from .serve.photos import expand_images, unique_names, write_explanation
    from .serve.predictor import Predictor, find_checkpoints
    from .serve.preprocess import PhotoError

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

    from .serve.app import check_port_free, run_server
    from .serve.predictor import Predictor

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
    from .serve.export import export_checkpoint

    r = export_checkpoint(args.checkpoint, args.format, out=args.out, data_dir=args.data_dir)
    checks = ", ".join(f"{d:.1e} on {name}" for name, d in r["max_abs_diff"].items())
    print(f"wrote {r['path']} ({r['format']}, {r['bytes'] / 1e6:.2f} MB); max |logit difference| vs PyTorch: "
          f"{checks} (tolerance {r['tolerance']:g})")
    if len(r["max_abs_diff"]) == 1:
        print("  the training dataset's files were not found here, so only random inputs were checked; "
              "pass --data-dir to check real test images too", file=sys.stderr)
    return 0


COMMANDS = {"compare": cmd_compare, "train": cmd_train, "evaluate": cmd_evaluate, "models": cmd_models,
            "datasets": cmd_datasets, "report": cmd_report, "predict": cmd_predict, "serve": cmd_serve,
            "export": cmd_export}

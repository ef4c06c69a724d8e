"""What each subcommand does, given parsed flags: turns flags into configs and calls the library."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from .config import GRID_AXES, GridConfig, RunConfig, load_grid_file, parse_list
from .errors import ConfigError
from .recipes import recipe_options

# Flag names shared by `compare` and `train` that map one-to-one onto RunConfig fields.
RUN_FIELDS = [f.name for f in fields(RunConfig)]
GRID_CASTS = {"models": str, "optimizers": str, "lrs": float, "seeds": int, "augment": bool}


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


def grid_from_args(args) -> tuple[GridConfig, Path]:
    """Defaults < recipe (--recipe) < grid YAML (-c) < flags given on the command line."""
    options = load_grid_file(args.config) if getattr(args, "config", None) else {}
    options.update(_given(args, list(GRID_AXES) + RUN_FIELDS + ["out"]))
    options = {**_recipe_defaults(options), **options}
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


def default_out(dataset: str) -> Path:
    """runs/<dataset>, with `folder:PATH` and `arrays:PATH` made into a safe folder name."""
    return Path("runs") / re.sub(r"[^A-Za-z0-9._-]+", "-", dataset).strip("-")


def compare_from_args(args) -> list[dict]:
    from rich.console import Console

    from .compare import print_leaderboard, run_grid

    from .executors import make_executor

    grid, out = grid_from_args(args)
    grid.runs()  # a bad option fails here, before a cluster is started
    executor = make_executor(getattr(args, "executor", "local"), getattr(args, "ray_address", None),
                             getattr(args, "cpus_per_run", None), getattr(args, "gpus_per_run", 0))
    rows = run_grid(grid, out, quiet=args.quiet, executor=executor)
    dataset = grid.base.get("dataset", RunConfig.dataset)
    print_leaderboard(rows, title=f"bakeoff leaderboard: {dataset} (sorted by validation accuracy)", console=Console())
    if getattr(args, "open", False):
        open_in_browser(out / "report.html")
    return rows


def report_from_args(args) -> Path:
    """Rebuild OUT/report.html and report.md from the run folders; nothing is trained."""
    from .report import build_report

    path = build_report(Path(args.out))
    if args.open:
        open_in_browser(path)
    return path


def open_in_browser(path: Path) -> None:
    import sys
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        print(f"bakeoff: no web browser found; open {path} yourself", file=sys.stderr)


def train_from_args(args) -> list[dict]:
    """One run: the singular flags become a grid of one."""
    for single, axis in (("model", "models"), ("optimizer", "optimizers"), ("lr", "lrs"), ("seed", "seeds")):
        value = getattr(args, single)
        setattr(args, axis, None if value is None else [value])
    args.augment = None if args.augment is None else [args.augment]
    args.config = None
    if not args.models and (getattr(args, "recipe", None) or "none") == "none":
        args.models = [RunConfig.model]  # else the recipe names the model
    if getattr(args, "distributed", False):
        return _train_distributed(args)
    return compare_from_args(args)


def _train_distributed(args) -> list[dict]:
    from .ddp import train_distributed

    grid, out = grid_from_args(args)
    metrics = train_distributed(grid.runs()[0], out, quiet=args.quiet)
    if metrics is not None:
        print(f"{metrics['run_id']} on {metrics['world_size']} processes: test accuracy "
              f"{100 * metrics['test_acc']:.2f}%, written to {out}")
    return [metrics] if metrics else []


def evaluate_checkpoint(args) -> dict:
    """Test-split loss and accuracy of a checkpoint, fed exactly as it was trained."""
    from .data import load_dataset
    from .models.checkpoint import load_checkpoint, model_from_checkpoint
    from .engine.device import resolve_device, resolve_precision
    from .engine.loop import Split, evaluate, uses_tta
    from .data.pixels import normalize

    ckpt = load_checkpoint(args.checkpoint)
    pre = ckpt["preprocessing"]
    dataset = args.dataset or pre["dataset"]
    ds = load_dataset(dataset, data_dir=args.data_dir, img_size=args.img_size or pre["img_size"], quiet=True)
    if (ds.in_chans, ds.img_size) != (pre["in_chans"], pre["img_size"]):
        raise ConfigError(f"{dataset} images are {ds.in_chans}x{ds.img_size}x{ds.img_size} but the model was trained "
                          f"on {pre['in_chans']}x{pre['img_size']}x{pre['img_size']} ({pre['dataset']})")
    if ds.num_classes != len(ckpt["classes"]):
        raise ConfigError(f"{dataset} has {ds.num_classes} classes but the model predicts {len(ckpt['classes'])}")
    device = resolve_device(args.device)
    model = model_from_checkpoint(ckpt).to(device)
    test = Split(normalize(ds.x_test, pre["mean"], pre["std"]).to(device), ds.y_test.to(device))
    tta = uses_tta(ckpt.get("config", {}).get("tta", False), pre["dataset"])  # scored as training scored it
    result = evaluate(model, test, device, resolve_precision("auto", device), tta=tta)
    return {"checkpoint": str(args.checkpoint), "dataset": dataset, "n_test": len(test),
            "test_acc": result.acc, "test_loss": result.loss}


# Input shapes of the built-in datasets, so `bakeoff models` needs no data files for them.
KNOWN_SHAPES = {"digits": (1, 8, 10), "mnist": (1, 28, 10), "fashion-mnist": (1, 28, 10), "cifar10": (3, 32, 10)}


def model_table(dataset: str, data_dir: str | None) -> tuple[tuple, list[dict]]:
    """(in_chans, img_size, num_classes) of the dataset and each model's size at that shape."""
    from .engine.metrics import count_params, forward_mflops
    from .models import create_model, list_models, model_doc

    if dataset in KNOWN_SHAPES:
        shape = KNOWN_SHAPES[dataset]
    else:
        from .data import load_dataset

        ds = load_dataset(dataset, data_dir=data_dir, quiet=True)
        shape = (ds.in_chans, ds.img_size, ds.num_classes)
    in_chans, img_size, num_classes = shape
    rows = []
    for name in list_models():
        model = create_model(name, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
        rows.append({"model": name, "params": count_params(model),
                     "mflops": forward_mflops(model, in_chans, img_size), "doc": model_doc(name)})
    return shape, rows

"""Commands that look without training: evaluate (a checkpoint, or runs on real photos), models, datasets."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from ..analysis.real_photos import score_comparison
from ..config import RunConfig
from ..data import describe_datasets, load_dataset
from ..data.pixels import normalize
from ..data.registry import builtin_name, DATASETS
from ..engine.device import resolve_device, resolve_precision
from ..engine.epoch import evaluate, Split, uses_tta
from ..engine.metrics import count_params, forward_mflops
from ..errors import BakeoffError, ConfigError
from ..models import create_model, list_models, model_doc
from ..models.checkpoint import load_checkpoint, model_from_checkpoint
from ..report import build_report
from ..store.comparison import collect
from ..store.leaderboard import write_leaderboard
from ..store.locks import run_lock
from ..store.runfolder import GRID_FILE, read_status
from .flag_checks import check_device, check_img_size


def cmd_evaluate(args) -> int:
    """Print a checkpoint's test accuracy and loss (--json: one object); --real-photos scores finished runs
    (a run folder, or every run of a comparison folder) on a folder of real photos instead."""
    if args.real_photos:
        return _evaluate_real_photos(Path(args.checkpoint), args.real_photos, args.class_map, args.json)
    check_device(args.device)
    result = evaluate_checkpoint(args.checkpoint, args.dataset, args.data_dir, args.img_size, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['checkpoint']} on {result['dataset']} test ({result['n_test']} images): "
              f"accuracy {100 * result['test_acc']:.2f}%, loss {result['test_loss']:.4f}")
    return 0


def _evaluate_real_photos(path: Path, photos: str, class_map: str | None, as_json: bool) -> int:
    """Score finished runs on real photos, no retraining; a comparison's leaderboard and report are rewritten."""
    say = (lambda line: print(line, file=sys.stderr))
    if (path / GRID_FILE).is_file():
        cmp = collect(path)
        if not score_comparison([r.dir for r in cmp.runs], photos, class_map, cmp.classes, say):
            raise BakeoffError(f"{path}: no finished run to score")
        cmp = collect(path)  # again: the runs' metrics now hold their real-photo accuracy
        with run_lock(path / ".lock", wait=True):
            write_leaderboard(cmp.rows, path)
        build_report(path)
        runs = [(r.run_id, r.metrics) for r in cmp.runs if r.finished]
    else:
        if not path.exists():
            raise BakeoffError(f"{path}: no such run folder, checkpoint or comparison folder")
        run_dir = path if path.is_dir() else path.parent
        score_comparison([run_dir], photos, class_map, load_checkpoint(run_dir)["classes"], say)

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
    if args.img_size is not None:
        check_img_size(args.img_size)
    (in_chans, img_size, num_classes), rows = model_table(dataset, args.data_dir, args.img_size)
    table = Table(title=f"models for {dataset} ({in_chans}x{img_size}x{img_size}, {num_classes} classes)")
    for col in ("model", "params", "MFLOPs", "what it is"):
        table.add_column(col, justify="right" if col in ("params", "MFLOPs") else "left")
    for r in rows:
        table.add_row(r["model"], f"{r['params']:,}", f"{r['mflops']:.2f}", r["doc"])
    Console().print(table)
    return 0


def model_table(dataset: str, data_dir: str | None,
                img_size: int | None = None) -> tuple[tuple[int, int, int], list[dict]]:
    """(in_chans, img_size, num_classes) of the dataset (at `img_size` when given) and each model's size there.

    Models are built on PyTorch's meta device: shapes without memory, so a dense layer that grows with the image
    (simple-cnn: billions of weights at 224 px) is counted, not allocated."""
    name = builtin_name(dataset)
    if name is not None:  # a built-in's shape is in the table: no data files needed
        info = DATASETS[name]
        shape = (info.in_chans, img_size or info.img_size, info.num_classes)
    else:
        ds = load_dataset(dataset, data_dir=data_dir, quiet=True, img_size=img_size)
        shape = (ds.in_chans, ds.img_size, ds.num_classes)
    in_chans, img_size, num_classes = shape
    rows = []
    for model_name in list_models():
        with torch.device("meta"):
            model = create_model(model_name, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
        rows.append({"model": model_name, "params": count_params(model),
                     "mflops": forward_mflops(model, in_chans, img_size), "doc": model_doc(model_name)})
    return shape, rows


def cmd_datasets(args) -> int:
    """Print each built-in dataset, whether its files were found, and where (or how to get them)."""
    for d in describe_datasets(args.data_dir):
        mark = "found" if d["found"] else "missing"
        print(f"{d['name']:<14} {mark:<8} {d['where']}")
    return 0

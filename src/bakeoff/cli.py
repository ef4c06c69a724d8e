"""The `bakeoff` command: parses flags, calls the library, prints. No logic of its own."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .errors import BakeoffError, ConfigError

DATA_DIR_HELP = "folder holding the dataset files (DIR/<name>/ or DIR/ itself); default: $BAKEOFF_DATA, then ~/.cache/bakeoff"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit status 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def _sub(subparsers, name: str, example: str, help: str) -> Parser:
    return subparsers.add_parser(name, help=help, description=help,
                                 usage=f"{example}\n       bakeoff {name} [options]  (all options below)",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_data_options(p: Parser) -> None:
    p.add_argument("--dataset", help="digits (default), fashion-mnist, mnist, cifar10, arrays:PATH.npz or folder:PATH")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--img-size", type=int, help="folder datasets: side in pixels (default: median size, capped at 64)")
    p.add_argument("--train-subset", type=int, help="train on a stratified subset of N images (default: all)")
    p.add_argument("--val-fraction", type=float, help="validation share carved from training data (default: 0.1)")


def _add_train_options(p: Parser) -> None:
    p.add_argument("--epochs", type=int, help="epochs per run (default: 10)")
    p.add_argument("--batch-size", type=int, help="images per step (default: 128)")
    p.add_argument("--weight-decay", type=float, help="L2 / decoupled weight decay (default: 0)")
    p.add_argument("--label-smoothing", type=float, help="training-loss label smoothing (default: 0)")
    p.add_argument("--momentum", type=float, help="sgd momentum (default: 0.9)")
    p.add_argument("--schedule", help="none (default), cosine or onecycle")
    p.add_argument("--patience", type=int, help="stop after N epochs without val-loss improvement (default: off)")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--precision", help="auto (default: bf16 where the hardware has it), fp32 or bf16")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-run lines")


def build_parser() -> Parser:
    parser = Parser(prog="bakeoff", description="Train, compare and serve image classifiers under equal conditions.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    p = _sub(sub, "compare", "bakeoff compare --dataset fashion-mnist --data-dir ../shared/datasets "
             "--models simple-cnn,cnn4 --optimizers adam,rmsprop --lrs 1e-3,1e-4 --epochs 5 --seeds 0,1",
             "train a grid of models x optimizers x learning rates x seeds and write a leaderboard")
    p.add_argument("-c", "--config", help="grid YAML file with the same keys as these flags (flags win)")
    _add_data_options(p)
    p.add_argument("--models", help="comma-separated model names (default: mlp,simple-cnn,cnn4,basic-cnn,resnet20)")
    p.add_argument("--optimizers", help="comma-separated: adam, adamw, rmsprop, adadelta, sgd (default: adam)")
    p.add_argument("--lrs", help="comma-separated learning rates (default: 1e-3)")
    p.add_argument("--seeds", help="comma-separated seeds (default: 0)")
    p.add_argument("--augment", action="store_true", default=None,
                   help="random crop with padding, plus horizontal flip except for digits (default: off)")
    _add_train_options(p)
    p.add_argument("--out", help="output folder (default: runs/<dataset>)")

    p = _sub(sub, "train", "bakeoff train --dataset mnist --data-dir ../shared/datasets --model cnn4 --epochs 3",
             "train one model (a grid of one run) and write its run folder")
    _add_data_options(p)
    p.add_argument("--model", help="model name (default: simple-cnn); see `bakeoff models`")
    p.add_argument("--optimizer", help="adam (default), adamw, rmsprop, adadelta or sgd")
    p.add_argument("--lr", type=float, help="learning rate (default: 1e-3)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--augment", action="store_true", default=None, help="random crop and flip (default: off)")
    _add_train_options(p)
    p.add_argument("--out", help="output folder (default: runs/<dataset>)")

    p = _sub(sub, "evaluate", "bakeoff evaluate runs/digits/cnn4_adam_lr0.001_noaug_seed0/best.pt --dataset digits",
             "evaluate a checkpoint on a dataset's test split")
    p.add_argument("checkpoint", help="best.pt, or a run folder holding one")
    _add_data_options(p)
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    p = _sub(sub, "models", "bakeoff models --dataset cifar10",
             "list the registered models with parameter counts and FLOPs for a dataset's input shape")
    p.add_argument("--dataset", default="digits", help="whose input shape to count for (default: digits)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)

    p = _sub(sub, "datasets", "bakeoff datasets --data-dir ../shared/datasets",
             "list the built-in datasets and where each was found, or how to get it")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "compare"  # `bakeoff` alone runs the default comparison
    if args.command is None:
        args = parser.parse_args(["compare"])
    try:
        return COMMANDS[command](args)
    except BakeoffError as e:
        print(f"bakeoff: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bakeoff: interrupted", file=sys.stderr)
        return 130


def cmd_compare(args) -> int:
    from .commands import compare_from_args

    compare_from_args(args)
    return 0


def cmd_train(args) -> int:
    from .commands import train_from_args

    train_from_args(args)
    return 0


def cmd_evaluate(args) -> int:
    from .commands import evaluate_checkpoint

    result = evaluate_checkpoint(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['checkpoint']} on {result['dataset']} test ({result['n_test']} images): "
              f"accuracy {100 * result['test_acc']:.2f}%, loss {result['test_loss']:.4f}")
    return 0


def cmd_models(args) -> int:
    from .commands import model_table

    from rich.console import Console
    from rich.table import Table

    shape, rows = model_table(args.dataset, args.data_dir)
    table = Table(title=f"models for {args.dataset} ({shape[0]}x{shape[1]}x{shape[1]}, {shape[2]} classes)")
    for col in ("model", "params", "MFLOPs", "what it is"):
        table.add_column(col, justify="right" if col in ("params", "MFLOPs") else "left")
    for r in rows:
        table.add_row(r["model"], f"{r['params']:,}", f"{r['mflops']:.2f}", r["doc"])
    Console().print(table)
    return 0


def cmd_datasets(args) -> int:
    from .data import describe_datasets

    for d in describe_datasets(args.data_dir):
        mark = "found" if d["found"] else "missing"
        print(f"{d['name']:<14} {mark:<8} {d['where']}")
    return 0


COMMANDS = {"compare": cmd_compare, "train": cmd_train, "evaluate": cmd_evaluate,
            "models": cmd_models, "datasets": cmd_datasets}


def default_out(dataset: str) -> Path:
    """runs/<dataset>, with `folder:PATH` and `arrays:PATH` made into a safe folder name."""
    return Path("runs") / re.sub(r"[^A-Za-z0-9._-]+", "-", dataset).strip("-")


def _version() -> str:
    from . import __version__

    return f"bakeoff {__version__}"


if __name__ == "__main__":
    sys.exit(main())

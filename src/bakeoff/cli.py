"""The `bakeoff` command line: the flags of every subcommand, and the entry point.

What each subcommand does with its flags is in the commands package (run_command); this module only parses.
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .commands import run_command
from .engine.process import configure_process
from .errors import BakeoffError
from .store.record import set_command

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


def _add_data_options(p: Parser, default: str = "digits") -> None:
    p.add_argument("--dataset", help=f"a built-in dataset (`bakeoff datasets` lists them; default: {default}), "
                   "arrays:PATH.npz or folder:PATH")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--img-size", type=int, help="resize images to this side in pixels, e.g. 32 for vgg16/resnet50 on "
                   "28x28 data (default: as stored; folder datasets: median size, capped at 64)")
    p.add_argument("--train-subset", type=int, help="train on a stratified subset of N images (default: all)")
    p.add_argument("--val-fraction", type=float, help="validation share carved from training data (default: 0.1)")


def _add_train_options(p: Parser, sweep: bool = False) -> None:
    """Training flags; with `sweep` (compare) the ones that are grid axes take comma lists, e.g. --epochs 5,10."""
    whole, number = (str, str) if sweep else (int, float)
    p.add_argument("--epochs", type=whole, help="epochs per run (default: 10)")
    p.add_argument("--batch-size", type=whole, help="images per step (default: 128)")
    p.add_argument("--weight-decay", type=number, help="L2 / decoupled weight decay (default: 0)")
    p.add_argument("--label-smoothing", type=number, help="training-loss label smoothing (default: 0)")
    p.add_argument("--momentum", type=number, help="sgd momentum (default: 0.9)")
    p.add_argument("--schedule", help="none (default), cosine or onecycle")
    p.add_argument("--recipe", help="none (default) or fast: a preset of model and training options for the least "
                   "time to a good accuracy (see docs/speed.md); flags given here override it")
    p.add_argument("--photo-augment", action="store_true", default=None,
                   help="also warp, dim and blur training images the way converted photos vary, for models that "
                        "will see real photos (default: off)")
    p.add_argument("--train-photos", metavar="PATH",
                   help="a folder of class folders of labelled real photos, converted as `predict` converts a photo: "
                        "4/5 join the training data, 1/5 is held out and scored (column photo_val_acc); folder names "
                        "map to classes as for --real-photos, with --class-map (default: none)")
    p.add_argument("--progressive-resize", metavar="PIXELS", type=whole,
                   help="train the first epoch on images PIXELS a side, growing to their own size just past halfway: "
                        "fewer FLOPs early on (models that pool globally, e.g. fast-net; default: off)")
    p.add_argument("--whiten-stem", action=argparse.BooleanOptionalAction, default=None,
                   help="fast-net: set the first conv to the whitening of the training images' patches and freeze "
                        "it (default: off; on in --recipe fast for Fashion-MNIST, where --no-whiten-stem turns it "
                        "off)")
    p.add_argument("--tta", action="store_true", default=None,
                   help="test-time augmentation: average each image's logits with its mirror image's (default: off)")
    p.add_argument("--patience", type=whole, help="stop after N epochs without val-loss improvement (default: off)")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--precision", help="auto (default: bf16 where the hardware has it), fp32 or bf16")
    # transfer learning and the autoencoder (models/pretrained.py, engine/stages.py)
    p.add_argument("--pretrained", help="none (default); imagenet (vgg16, resnet50: torchvision's weights, "
                   "downloaded once to ~/.cache/torch); or a bakeoff best.pt / run folder to start from")
    p.add_argument("--weights", help="local ImageNet weight file (torchvision's .pth) instead of the download")
    p.add_argument("--freeze", help="none (default); backbone: train the head only, on cached backbone features; "
                                    "probe: fit the final linear layer to them by logistic regression (L-BFGS, its L2 "
                                    "strength chosen on validation), the linear probe")
    p.add_argument("--finetune-blocks", type=whole,
                   help="train only the last N backbone blocks and the head (default: all blocks)")
    p.add_argument("--backbone-lr-scale", type=number,
                   help="with --finetune-blocks: those blocks' lr = lr x this (default: 0.1)")
    p.add_argument("--denoise", type=number,
                   help="autoencoder: Gaussian input noise std, 0..1 pixel scale (default: 0, no noise)")
    p.add_argument("--latent-dim", type=whole, help="autoencoder: code size (default: 64)")
    p.add_argument("--time-budget", metavar="DURATION",
                   help="the same training wall-clock for every run, e.g. 60s, 5m: the epochs are sized to it from "
                        "the measured speed (default: off, --epochs decides)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-run lines")
    p.add_argument("--wide", action="store_true",
                   help="print every leaderboard column (default: a short set that fits 80 columns)")
    p.add_argument("--no-robustness", action="store_true",
                   help="skip accuracy under corruptions after training, for quick runs (default: measured, on up "
                        "to 2,000 test images; a later run without this flag adds it without retraining)")


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
    _add_train_options(p, sweep=True)
    p.add_argument("--folds", type=int, help="K: stratified K-fold cross-validation of the training data instead of "
                   "one validation split; the mean over folds ranks (default: off)")
    p.add_argument("--tune", type=int, metavar="N", help="N hyperparameter trials per model (Optuna TPE, pruned on "
                   "validation) before the seeds are trained with the best (default: off)")
    p.add_argument("--out", help="output folder (default: runs/<dataset>)")
    p.add_argument("--executor", default="local",
                   help="local (default: one run after another here) or ray (each run a Ray task; pip install -e '.[ray]')")
    p.add_argument("--ray-address", help="an existing Ray cluster, e.g. ray://head:10001 (default: a private local one)")
    p.add_argument("--cpus-per-run", type=int, help="ray: CPUs each run reserves (default: all of one node's)")
    p.add_argument("--gpus-per-run", type=float, default=0, help="ray: GPUs each run reserves (default: 0)")
    p.add_argument("--open", action="store_true", help="open OUT/report.html in the web browser at the end")
    p.add_argument("--mlflow", nargs="?", const="", metavar="URI",
                   help="also log every run (options, per-epoch and final metrics, checkpoint, report) to MLflow: "
                        "this tracking URI, or without one a local store beside the comparison, sqlite:///OUT/mlflow.db, "
                        "which `mlflow ui --backend-store-uri` opens (default: off; pip install -e '.[track]')")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files of every run to OUT/tensorboard (default: off; "
                        "pip install -e '.[track]')")
    p.add_argument("--track", metavar="mlflow,tensorboard",
                   help="the same as --mlflow and/or --tensorboard, as one comma list")
    p.add_argument("--mlflow-uri", metavar="URI", help="the same as --mlflow URI")
    _add_real_photo_options(p)

    p = _sub(sub, "train", "bakeoff train --dataset mnist --data-dir ../shared/datasets --model cnn4 --epochs 3",
             "train one model (a grid of one run) and write its run folder")
    _add_data_options(p)
    p.add_argument("--model", help="model name (default: simple-cnn); see `bakeoff models`")
    p.add_argument("--optimizer", help="adam (default), adamw, rmsprop, adadelta or sgd")
    p.add_argument("--lr", type=float, help="learning rate (default: 1e-3)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--augment", action="store_true", default=None, help="random crop and flip (default: off)")
    p.add_argument("--distributed", action="store_true",
                   help="under torchrun: DistributedDataParallel, --batch-size is the global batch (gloo on CPU)")
    _add_train_options(p)
    p.add_argument("--class-map", metavar="FOLDER=CLASS,...",
                   help="--train-photos folders whose names do not match a class, e.g. pants=Trouser,outwear=Coat")
    p.add_argument("--out", help="output folder (default: runs/<dataset>)")

    p = _sub(sub, "evaluate", "bakeoff evaluate runs/digits/cnn4_adam_lr0.001_noaug_seed0/best.pt --dataset digits",
             "evaluate a checkpoint on a dataset's test split, or finished runs on a folder of real photos")
    p.add_argument("checkpoint", help="best.pt, or a run folder holding one (with --real-photos: also a comparison "
                                      "folder, every finished run scored)")
    _add_data_options(p, default="the one it was trained on")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    _add_real_photo_options(p)

    p = _sub(sub, "models", "bakeoff models --dataset cifar10",
             "list the registered models with parameter counts and FLOPs for a dataset's input shape")
    p.add_argument("--dataset", help="whose input shape to count for (default: digits)")
    p.add_argument("--img-size", type=int, metavar="N",
                   help="count at N x N pixels instead of the dataset's size, as --img-size trains a folder of photos "
                        "(default: the dataset's)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)

    p = _sub(sub, "datasets", "bakeoff datasets --data-dir ../shared/datasets",
             "list the built-in datasets and where each was found, or how to get it")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)

    p = _sub(sub, "report", "bakeoff report runs/fashion-mnist --open",
             "rebuild OUT/report.html and OUT/report.md from a comparison's run folders (no training)")
    p.add_argument("out", metavar="OUT", help="the comparison folder (holds grid.json and one folder per run)")
    p.add_argument("--open", action="store_true", help="open report.html in the web browser")

    p = _sub(sub, "merge", "bakeoff merge runs/scratch runs/pretrained --out runs/all",
             "merge comparisons of the same data and split into one: one leaderboard, one report")
    p.add_argument("sources", nargs="+", metavar="OUT", help="comparison folders made by `bakeoff compare`")
    p.add_argument("--out", required=True, help="a new folder for the merged comparison")
    p.add_argument("--open", action="store_true", help="open report.html in the web browser")
    _add_serving_commands(sub)
    return parser


def _add_real_photo_options(p) -> None:
    p.add_argument("--real-photos", metavar="PATH",
                   help="also score every finished run on this folder of class folders of real photos, through "
                        "what `predict` does to a photo (leaderboard column real_acc)")
    p.add_argument("--class-map", metavar="FOLDER=CLASS,...",
                   help="photo folders whose names do not match a class, e.g. pants=Trouser,outwear=Coat "
                        "(default: names match case- and punctuation-insensitively; others are skipped)")


def _add_serving_commands(sub) -> None:
    run = "runs/fashion-mnist/cnn4_adam_lr0.001_noaug_seed0"
    p = _sub(sub, "predict", f"bakeoff predict {run} photos/sneaker.jpg 'shop/*.png' --top-k 3 --explain seen/",
             "classify photos with one model, preprocessed as it was trained (files, folders, globs)")
    p.add_argument("checkpoint", help="best.pt, a run folder holding one, or a .onnx from `bakeoff export`")
    p.add_argument("images", nargs="+", help="image files, folders (searched recursively) or globs")
    p.add_argument("--top-k", type=int, default=3, help="classes per image, best first (default: 3)")
    p.add_argument("--json", action="store_true", help='one JSON object per image: {"path": ..., "top_k": [...]}')
    p.add_argument("--explain", metavar="DIR", help="write DIR/<image>.png: the photo, what the model saw, and "
                   "where it looked (Grad-CAM; input gradients for models without convolutions)")
    p.add_argument("--calibrated", action="store_true",
                   help="divide the logits by the temperature fitted on validation data after training, so "
                        "the probabilities match how often the model is right (default: off, the raw softmax)")
    p.add_argument("--runtime", default="torch", help="torch (default) or onnx (exported in memory, verified)")
    p.add_argument("--no-crop", action="store_true",
                   help="models of object datasets (Fashion-MNIST, MNIST): keep the whole photo instead of trimming "
                        "it to the object (default: trim, as the dataset was made)")

    p = _sub(sub, "serve", "bakeoff serve runs/fashion-mnist --port 8000 --runtime onnx",
             "serve every model of a comparison: a web page at / and an HTTP API (POST /v1/predict)")
    p.add_argument("paths", nargs="+", metavar="RUN_DIR_OR_CHECKPOINT",
                   help="a comparison folder (every finished run), run folders, best.pt or exported .onnx files")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument("--runtime", default="torch", help="torch (default) or onnx (ONNX Runtime, checked against torch)")
    p.add_argument("--max-upload-mb", type=float, default=10, help="larger uploads get 413 (default: 10)")
    p.add_argument("--calibrated", action="store_true",
                   help="divide the logits by the temperature fitted on validation data after training, so "
                        "the probabilities match how often the model is right (default: off, the raw softmax)")
    p.add_argument("--no-crop", action="store_true",
                   help="models of object datasets: keep the whole photo instead of trimming it to the object")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per request; concurrent requests use the other cores (default: 1)")
    p.add_argument("--decode-memory-mb", type=float, default=512,
                   help="memory the photos being decoded at once may take together; more wait (default: 512)")
    p.add_argument("--batch-window-ms", type=float, default=25,
                   help="concurrent requests for a model share one forward pass: it waits for photos other "
                        "requests are preparing, at most this long after the first (a lone request never waits; "
                        "default: 25; 0: each request runs its own, unbatched)")
    p.add_argument("--max-batch", type=int, default=32, help="photos in one shared forward pass at most (default: 32)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests for this host name, e.g. a name this machine has on the network "
                        "(default: localhost, --host and IP addresses only: a guard against DNS rebinding)")

    p = _sub(sub, "export", "bakeoff export runs/fashion-mnist/cnn4_adam_lr0.001_noaug_seed0/best.pt --format onnx",
             "export a checkpoint to ONNX or TorchScript with its preprocessing, checked against PyTorch")
    p.add_argument("checkpoint", help="best.pt or a run folder holding one")
    p.add_argument("--format", default="onnx", help="onnx (default) or torchscript")
    p.add_argument("--out", help="output file (default: beside the checkpoint, best.onnx / best.torchscript.pt)")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists (default: refuse; "
                   "the checkpoint itself is never replaced)")
    p.add_argument("--data-dir", help="where the training dataset is, to check on real test images; " + DATA_DIR_HELP)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    set_command(sys.argv[1:] if argv is None else list(argv))  # for grid.json's record of what ran
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["compare"])  # `bakeoff` alone runs the default comparison
    # before torch loads (parsing does not load it): the process-wide settings, here and nowhere on import;
    # a server's OpenMP threads share the cores with its HTTP threads
    configure_process(shares_cores=args.command == "serve")
    try:
        return run_command(args.command, args)
    except BakeoffError as e:
        print(f"bakeoff: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the user named that the system refuses (too long, a file in the way, ...)
        if e.filename is None:
            raise
        print(f"bakeoff: error: cannot use {e.filename}: {e.strerror or type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bakeoff: interrupted", file=sys.stderr)
        return 130


def _version() -> str:
    return f"bakeoff {__version__}"


if __name__ == "__main__":
    sys.exit(main())

"""The Keras side of bench/keras_reference.py: one seed architecture trained with TensorFlow, timed per epoch.

Runs in .venv-keras (`make keras-venv`: tensorflow-cpu 2.21.0, numpy), never in the project venv, and
imports nothing from bakeoff. Reads Fashion-MNIST's official IDX .gz files with gzip and numpy, scales
pixels to [0, 1] as the seeds did, builds the model as the seeds wrote it in Keras, trains it with
Adam (lr 1e-3, Keras' default and the seeds' setting), sparse categorical cross-entropy, shuffled
batches and Keras' own defaults otherwise (fp32; no XLA: Keras 3 leaves jit_compile off on CPU), and
prints one JSON line: per-epoch seconds, test accuracy, parameter counts, versions.

    .venv-keras/bin/python bench/keras_worker.py --model simple-cnn --data-dir ../shared/datasets --epochs 3
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TF loads: keep its start-up chatter off stderr

import keras  # noqa: E402  (Keras 3, TensorFlow's own since 2.16)
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

FILES = {"x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
         "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}
# bakeoff's BatchNorm2d defaults in Keras terms: Keras momentum = 1 - PyTorch momentum (0.1), eps 1e-5.
TORCH_BN = {"momentum": 0.9, "epsilon": 1e-5}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip): 2 zero bytes, dtype code 0x08 (uint8), ndim, big-endian int32 dims, then the data."""
    raw = gzip.decompress(path.read_bytes())
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not a uint8 IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(data_dir: Path) -> dict[str, np.ndarray]:
    """Images (N, 28, 28, 1) float32 in [0, 1], labels int64; from DATA_DIR/fashion-mnist/ or DATA_DIR itself."""
    folder = data_dir / "fashion-mnist" if (data_dir / "fashion-mnist").is_dir() else data_dir
    data = {k: read_idx(folder / name) for k, name in FILES.items()}
    for k in ("x_train", "x_test"):
        data[k] = (data[k].astype(np.float32) / 255)[..., None]  # (N, H, W, 1): Keras is channels-last
    for k in ("y_train", "y_test"):
        data[k] = data[k].astype(np.int64)
    return data


def simple_cnn(num_classes: int) -> keras.Model:
    """Seed 004, from its model summary: 320 + 29,251,872 + 54,090 = 29,306,282 parameters."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),  # (26, 26, 32)
        layers.MaxPooling2D((2, 2)),  # (13, 13, 32)
        layers.Dropout(0.2),
        layers.Flatten(),  # 5408
        layers.Dense(5408, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ])


def cnn4(num_classes: int) -> keras.Model:
    """Seed 000's "CNN Model 1" (4 conv, 3 pool, 4 dense) with bakeoff's widths: the seed gives only layer counts."""
    def conv(width: int) -> list:
        # no bias: BatchNorm's shift replaces it, as in bakeoff (bias=not batch_norm)
        return [layers.Conv2D(width, (3, 3), padding="same", use_bias=False),
                layers.BatchNormalization(**TORCH_BN), layers.ReLU()]

    def dense(width: int) -> list:
        return [layers.Dense(width, activation="relu"), layers.Dropout(0.25)]

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        *conv(32), *conv(32), layers.MaxPooling2D((2, 2)),  # (14, 14, 32)
        *conv(64), layers.MaxPooling2D((2, 2)),  # (7, 7, 64)
        *conv(128), layers.MaxPooling2D((2, 2)),  # (3, 3, 128)
        layers.Flatten(),  # 1152
        *dense(256), *dense(128), *dense(64),
        layers.Dense(num_classes, activation="softmax"),
    ])


def basic_cnn(num_classes: int) -> keras.Model:
    """Seed 003's basic CNN, the TensorFlow CNN tutorial's, here on 28x28x1 instead of CIFAR's 32x32x3."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),  # (26, 26, 32)
        layers.MaxPooling2D((2, 2)),  # (13, 13, 32)
        layers.Conv2D(64, (3, 3), activation="relu"),  # (11, 11, 64)
        layers.MaxPooling2D((2, 2)),  # (5, 5, 64)
        layers.Conv2D(64, (3, 3), activation="relu"),  # (3, 3, 64)
        layers.Flatten(),  # 576
        layers.Dense(64, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ])


MODELS = {"simple-cnn": simple_cnn, "cnn4": cnn4, "basic-cnn": basic_cnn}


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each training epoch (no validation runs inside fit here)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def count(weights: list) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--data-dir", required=True, help="folder with fashion-mnist/*.gz (or the .gz files themselves)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--indices", help=".npy of training-image indices (bakeoff's --train-subset); default: all")
    p.add_argument("--intra-threads", type=int, default=2, help="TF intra-op threads (default: 2, the cores here)")
    p.add_argument("--inter-threads", type=int, default=1, help="TF inter-op threads (default: 1: one op at a time)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expect-params", type=int, help="exit 3 before training if the trainable count differs")
    args = p.parse_args()

    # Thread pools are fixed at TF's first op, so set them before anything runs.
    tf.config.threading.set_intra_op_parallelism_threads(args.intra_threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_threads)
    keras.utils.set_random_seed(args.seed)
    data = load_fashion_mnist(Path(args.data_dir))
    x_train, y_train = data["x_train"], data["y_train"]
    if args.indices:
        idx = np.load(args.indices)
        x_train, y_train = x_train[idx], y_train[idx]

    model = MODELS[args.model](num_classes=10)
    trainable, total = count(model.trainable_weights), count(model.weights)  # total adds BN moving stats
    if args.expect_params is not None and trainable != args.expect_params:
        print(f"{args.model}: Keras has {trainable:,} trainable parameters, bakeoff {args.expect_params:,}",
              file=sys.stderr)
        return 3
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
              callbacks=[timer], verbose=0)
    _, test_acc = model.evaluate(data["x_test"], data["y_test"], batch_size=1024, verbose=0)
    print(json.dumps({
        "model": args.model, "params_trainable": trainable, "params_total": total,
        "n_train": int(len(y_train)), "batch_size": args.batch_size, "epoch_seconds": timer.seconds,
        "test_acc": float(test_acc), "tensorflow": tf.__version__, "keras": keras.__version__,
        "intra_threads": args.intra_threads, "inter_threads": args.inter_threads,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 builds)"),
        "jit_compile": bool(model.jit_compile),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

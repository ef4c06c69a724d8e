"""bakeoff against the seeds' own Keras code: the same architectures, data, batch size and epochs, on this machine.

For each of --models, alternating in one run: bakeoff trains it (its default fast path: in-memory
tensors, channels-last, bf16 autocast where the CPU has native bf16), then TensorFlow 2.21 trains the
Keras version as the seeds wrote it (bench/keras_worker.py, run with .venv-keras/bin/python; create
that venv with `make keras-venv`; TensorFlow is no project dependency). Both train on Fashion-MNIST's
60,000 training images (no validation split, so both see the same images; --train-subset takes the
same stratified subset on both sides) with Adam at lr 1e-3 (the seeds' setting), then score the
10,000 test images. The parameter counts of both versions are printed and must be equal.

Seconds per epoch are the mean of epochs 2..N: epoch 1 also pays for warm-up (kernel selection,
tf.function tracing). With --epochs 1 it is that one epoch, warm-up included.
Threads: torch uses --threads (default torch.get_num_threads(), 2 on this machine); TensorFlow
gets the same number of intra-op threads and 1 inter-op thread (ops run one at a time, as torch's do).
Batch size: none of the seed texts states one (Keras' own default would be 32), so every model
uses --batch-size, default 128, bakeoff's default. Target (issue 5): bakeoff at least 2x faster per
epoch for every architecture, test accuracy within 0.5 points.

The yardstick: the speed-up is a ratio of two times measured alternately on the same machine in the same
run, so it cancels the machine and needs no normalizing; the seconds per epoch themselves depend on the host
(docs/speed.md, "The yardstick"). So that they can be read, this machine's peak (bench/yardstick.py)
is measured at the start and written beside them as "peak_bf16_gflops" ("peak_fp32_gflops" on a CPU without
native bf16); seconds x peak / 420 gives a time on the reference machine.

Prints a table and writes JSON with --json PATH:
{"architectures": [{"model", "batch_size", "bakeoff_epoch_s", "keras_epoch_s", "speedup",
"bakeoff_test_acc", "keras_test_acc", ...}], "cpu", "threads", "torch", "tensorflow", "peak_bf16_gflops", ...}.

    make keras-venv
    python bench/keras_reference.py --data-dir ../shared/datasets --epochs 3 --json bench/results/keras_reference.json
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bakeoff.engine.process import configure_process

configure_process()  # as the command line does: before torch loads

import numpy as np
import torch

from bakeoff import __version__
from bakeoff.config import RunConfig
from bakeoff.data import load_dataset, train_val_split
from matmul_peak import cpu_model
from yardstick import describe, measure_yardstick, yardstick_fields
from bakeoff.runs.runner import PreparedData, execute_run
from results_file import write_json

ROOT = Path(__file__).resolve().parents[1]
KERAS_PYTHON = ROOT / ".venv-keras" / "bin" / "python"
WORKER = ROOT / "bench" / "keras_worker.py"
MODELS = ("simple-cnn", "cnn4", "basic-cnn")  # the ones bench/keras_worker.py writes in Keras
TARGET_SPEEDUP, TARGET_ACC_GAP = 2.0, 0.005  # issue 5: >= 2x per epoch, test accuracy within 0.5 points


def epoch_seconds(seconds: list[float]) -> float:
    """Mean seconds per epoch without the first (warm-up) epoch; the only one when there is one."""
    return statistics.mean(seconds[1:] if len(seconds) > 1 else seconds)


def train_bakeoff(model: str, data: PreparedData, args) -> dict:
    """One bakeoff run in a throwaway folder: per-epoch seconds from its history.csv, test accuracy, params."""
    cfg = RunConfig(dataset="fashion-mnist", data_dir=args.data_dir, model=model, epochs=args.epochs,
                    batch_size=args.batch_size, val_fraction=0.0, train_subset=args.train_subset,
                    optimizer="adam", lr=1e-3, precision=args.precision, seed=args.seed)
    with tempfile.TemporaryDirectory() as run_dir:
        m = execute_run(cfg, data, Path(run_dir), quiet=True, resumable=False)
        if m["status"] != "finished":
            raise SystemExit(f"bakeoff {model}: {m['status']}: {m.get('reason')}")
        with open(Path(run_dir) / "history.csv") as f:
            seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    return {"epoch_seconds": seconds, "test_acc": m["test_acc"], "params": m["params"],
            "precision": m["precision"], "n_train": m["n_train"]}


def train_keras(model: str, args, expect_params: int, indices: Path | None) -> dict:
    """The Keras version in .venv-keras, as a subprocess; its last stdout line is its JSON result."""
    cmd = [str(KERAS_PYTHON), str(WORKER), "--model", model, "--data-dir", args.data_dir,
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
           "--intra-threads", str(args.threads), "--inter-threads", "1", "--expect-params", str(expect_params)]
    if indices is not None:
        cmd += ["--indices", str(indices)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if proc.returncode != 0:
        raise SystemExit(f"keras {model} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(model: str, data: PreparedData, args, indices: Path | None) -> dict:
    """bakeoff, then Keras, on one architecture: the row of the table and of the JSON."""
    b = train_bakeoff(model, data, args)
    k = train_keras(model, args, b["params"], indices)
    assert k["params_trainable"] == b["params"], (model, k["params_trainable"], b["params"])
    moving = k["params_total"] - k["params_trainable"]  # Keras counts BatchNorm's running stats, torch keeps buffers
    print(f"{model}: parameters bakeoff {b['params']:,}, Keras {k['params_trainable']:,} trainable"
          + (f" (+{moving:,} BatchNorm moving statistics)" if moving else ""), flush=True)
    b_s, k_s = epoch_seconds(b["epoch_seconds"]), epoch_seconds(k["epoch_seconds"])
    row = {"model": model, "batch_size": args.batch_size, "bakeoff_epoch_s": b_s, "keras_epoch_s": k_s,
           "speedup": k_s / b_s, "bakeoff_test_acc": b["test_acc"], "keras_test_acc": k["test_acc"],
           "params": b["params"], "n_train": b["n_train"], "bakeoff_precision": b["precision"],
           "bakeoff_epoch_seconds": b["epoch_seconds"], "keras_epoch_seconds": k["epoch_seconds"]}
    row["meets_target"] = (row["speedup"] >= TARGET_SPEEDUP
                           and row["bakeoff_test_acc"] >= row["keras_test_acc"] - TARGET_ACC_GAP)
    return {**row, "_keras": k}


def print_table(rows: list[dict], epochs: int) -> None:
    which = {1: "the only epoch, warm-up included", 2: "epoch 2, the first (warm-up) left out"}.get(
        epochs, f"mean of epochs 2..{epochs}, the first (warm-up) left out")
    print(f"\nseconds per epoch: {which}")
    print(f"{'model':<11} {'batch':>5} {'bakeoff s/ep':>12} {'keras s/ep':>10} {'speedup':>7} "
          f"{'bakeoff acc':>11} {'keras acc':>9}  target")
    for r in rows:
        print(f"{r['model']:<11} {r['batch_size']:>5} {r['bakeoff_epoch_s']:>12.2f} {r['keras_epoch_s']:>10.2f} "
              f"{r['speedup']:>6.2f}x {100 * r['bakeoff_test_acc']:>10.2f}% {100 * r['keras_test_acc']:>8.2f}%  "
              f"{'met' if r['meets_target'] else 'missed'}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated (default: {','.join(MODELS)})")
    p.add_argument("--epochs", type=int, default=3, help="epochs per model and side (default: 3)")
    p.add_argument("--batch-size", type=int, default=128,
                   help="for every model (default: 128; the seeds state none, see above)")
    p.add_argument("--train-subset", type=int, help="train on N stratified images, e.g. 2000 for a smoke test "
                   "(default: all 60,000)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                   help="bakeoff's precision (default: auto, bf16 autocast on CPUs with native bf16)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="torch threads and TF intra-op threads (default: torch.get_num_threads(), here %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="weights, data order and subset (default: 0)")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"),
                   help="holds fashion-mnist/*.gz (default: ../shared/datasets)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    args.models = args.models.split(",")
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from: {', '.join(MODELS)}")
    return args


def main() -> int:
    args = parse_args()
    if not KERAS_PYTHON.exists():
        print(f"no TensorFlow venv at {KERAS_PYTHON.parent.parent}: run `make keras-venv` first", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    peak = measure_yardstick()
    print(f"yardstick: {describe(peak)}", flush=True)
    ds = load_dataset("fashion-mnist", data_dir=args.data_dir, quiet=True)
    data = PreparedData.from_dataset(ds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        indices = None
        if args.train_subset:  # the exact images bakeoff trains on, handed to the Keras side
            indices = Path(tmp) / "train_indices.npy"
            np.save(indices, train_val_split(ds.y_train, 0.0, args.seed, args.train_subset)[0].numpy())
        for model in args.models:
            rows.append(compare(model, data, args, indices))
    print_table(rows, args.epochs)
    k = rows[0]["_keras"]
    result = {
        "architectures": [{key: v for key, v in r.items() if key != "_keras"} for r in rows],
        "epochs": args.epochs, "timing": "seconds per epoch: mean of epochs 2..N (all when N = 1)",
        "target": f"speedup >= {TARGET_SPEEDUP}, bakeoff test acc >= keras - {100 * TARGET_ACC_GAP} points",
        "cpu": cpu_model(), "threads": {"torch": args.threads, "tf_intra": k["intra_threads"],
                                        "tf_inter": k["inter_threads"]},
        "torch": str(torch.__version__), "bakeoff": __version__, "tensorflow": k["tensorflow"],
        "keras": k["keras"], "keras_jit_compile": k["jit_compile"], "seed": args.seed,
        "date": datetime.date.today().isoformat(), **yardstick_fields(peak["gflops"], peak["precision"]),
    }
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

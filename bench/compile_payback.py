"""Does torch.compile pay back its compile time within a run? Per model: eager and compiled training-step
time (bakeoff's fast path: channels-last, bf16 autocast where the CPU has it), the compile time, and the
number of steps after which compiling has paid for itself, against the steps of a 10-epoch run.

    python bench/compile_payback.py --models fast-net-s,basic-cnn,cnn4 --json bench/results/compile.json
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import torch

from bakeoff.engine.device import resolve_precision
from bakeoff.models import create_model
from results_file import write_json
from train_step import CPU, training_step


def timed(step, x, y, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step(x, y)
    return (time.perf_counter() - start) / n


def measure(name: str, batch: int, steps: int, train_images: int, epochs: int) -> dict:
    precision = resolve_precision("auto", CPU)
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    results = {}
    for mode in ("eager", "compiled"):
        torch.manual_seed(0)
        model = create_model(name, num_classes=10, in_chans=1, img_size=28).to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
        if mode == "compiled":
            model = torch.compile(model)
        step = training_step(model, opt, precision)
        start = time.perf_counter()
        step(x, y)  # the first step compiles (forward and backward graphs)
        first = time.perf_counter() - start
        timed(step, x, y, 3)  # warm-up: oneDNN primitive caches, allocator
        results[mode] = {"first_step_s": first, "step_s": timed(step, x, y, steps)}
    eager, compiled = results["eager"]["step_s"], results["compiled"]["step_s"]
    compile_s = results["compiled"]["first_step_s"] - results["eager"]["first_step_s"]
    run_steps = epochs * math.ceil(train_images / batch)
    saved = eager - compiled
    payback = compile_s / saved if saved > 0 else math.inf
    return {"model": name, "batch_size": batch, "precision": precision, "eager_step_ms": 1e3 * eager,
            "compiled_step_ms": 1e3 * compiled, "compile_s": compile_s, "payback_steps": payback,
            "run_steps": run_steps, "pays_back": payback < run_steps}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fast-net-s,basic-cnn,cnn4")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="timed steps per mode (default: 20)")
    p.add_argument("--train-images", type=int, default=54000, help="for the run length (default: Fashion-MNIST's)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    rows = []
    for name in args.models.split(","):
        r = measure(name, args.batch_size, args.steps, args.train_images, args.epochs)
        rows.append(r)
        verdict = (f"pays back after {r['payback_steps']:.0f} steps" if math.isfinite(r["payback_steps"])
                   else "never pays back (no faster)")
        print(f"{name:<12} eager {r['eager_step_ms']:7.1f} ms/step  compiled {r['compiled_step_ms']:7.1f} ms/step  "
              f"compile {r['compile_s']:5.1f} s  {verdict}; a {args.epochs}-epoch run has {r['run_steps']} steps",
              flush=True)
    if args.json:
        write_json(args.json, {"results": rows, "torch": torch.__version__})
    return 0


if __name__ == "__main__":
    sys.exit(main())

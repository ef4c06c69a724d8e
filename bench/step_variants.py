"""Is bakeoff's fast path the fastest way to run this model's step? One model's training step in each precision and
memory layout, alternated round by round in one process, so load changes hit every variant alike.

    python bench/step_variants.py --model basic-cnn --batch-size 128
    python bench/step_variants.py --model fast-net-s --batch-size 512 --optimizer sgd

Variants: bf16 autocast (where the CPU has native bf16) and fp32, each channels-last (bakeoff's choice) and
contiguous NCHW; and, for a model with max-pools under bf16, channels-last with its pools run in fp32. Each round
times `--steps` steps of every variant in turn; the median of `--rounds` rounds is reported, with the variant's
time against bakeoff's own (bf16 channels-last where it applies, else fp32). The step
is bench/train_step.py's (bakeoff's: fused optimizer, gradients set to None, freed memory kept in the heap) on
random 28x28 one-channel images. --json PATH writes {"model", "batch_size", "variants": [{"precision", "layout",
"fp32_pools", "median_ms", "rounds_ms", "vs_bakeoff"}], "bakeoff_variant"}.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import NamedTuple

import torch
import torch.nn as nn

from bakeoff.engine.device import cpu_has_bf16, resolve_precision
from bakeoff.engine.heap import keep_freed_memory
from bakeoff.errors import BakeoffError
from bakeoff.models import create_model
from results_file import write_json
from train_step import CPU, bench_optimizer, training_step

LAYOUTS = {"channels-last": torch.channels_last, "nchw": torch.contiguous_format}


class Fp32MaxPool(nn.Module):
    """A max-pool computed in fp32 on a bf16 input, its output cast back."""

    def __init__(self, pool: nn.MaxPool2d):
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x.float()).to(x.dtype)


def pools_in_fp32(model: nn.Module) -> None:
    """Wrap every nn.MaxPool2d of `model` in Fp32MaxPool."""
    for name, child in model.named_children():
        if isinstance(child, nn.MaxPool2d):
            setattr(model, name, Fp32MaxPool(child))
        else:
            pools_in_fp32(child)


class Variant(NamedTuple):
    precision: str  # "bf16" or "fp32"
    layout: str  # a key of LAYOUTS
    fp32_pools: bool = False

    def label(self) -> str:
        return f"{self.precision}, {self.layout}" + (", fp32 pools" if self.fp32_pools else "")


def variants(model: nn.Module) -> list[Variant]:
    """The variants this CPU can run for `model`; bakeoff's own choice first."""
    precisions = ["bf16", "fp32"] if cpu_has_bf16() else ["fp32"]
    found = [Variant(p, layout) for p in precisions for layout in LAYOUTS]
    if cpu_has_bf16() and any(isinstance(m, nn.MaxPool2d) for m in model.modules()):
        found.append(Variant("bf16", "channels-last", fp32_pools=True))
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--steps", type=int, default=10, help="steps per variant per round (default: 10)")
    p.add_argument("--rounds", type=int, default=7, help="rounds, alternating the variants (default: 7)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()

    keep_freed_memory()
    try:
        probe = create_model(args.model, num_classes=10, in_chans=1, img_size=28)
    except BakeoffError as e:  # an unknown model: one line, not a traceback
        sys.exit(f"step_variants: {e}")
    y = torch.randint(0, 10, (args.batch_size,))
    steps, inputs = {}, {}
    for variant in variants(probe):
        torch.manual_seed(0)
        model = create_model(args.model, num_classes=10, in_chans=1, img_size=28)
        if variant.fp32_pools:
            pools_in_fp32(model)
        memory_format = LAYOUTS[variant.layout]
        model = model.to(memory_format=memory_format)
        steps[variant] = training_step(model, bench_optimizer(model, args.optimizer), variant.precision)
        inputs[variant] = torch.randn(args.batch_size, 1, 28, 28).contiguous(memory_format=memory_format)
        for _ in range(3):  # warm-up: oneDNN picks and caches its kernels on the first calls
            steps[variant](inputs[variant], y)
    rounds = {variant: [] for variant in steps}
    for _ in range(args.rounds):
        for variant, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step(inputs[variant], y)
            rounds[variant].append(1000 * (time.perf_counter() - start) / args.steps)
    ours = Variant(resolve_precision("auto", CPU), "channels-last")
    base = statistics.median(rounds[ours])
    print(f"{args.model} batch {args.batch_size}, {args.optimizer}: "
          f"median of {args.rounds} rounds of {args.steps} steps")
    rows = []
    for variant, times in rounds.items():
        median = statistics.median(times)
        rows.append({**variant._asdict(), "median_ms": round(median, 2), "rounds_ms": [round(t, 2) for t in times],
                     "vs_bakeoff": round(median / base, 3)})
        mark = "  (bakeoff)" if variant == ours else ""
        print(f"  {variant.label():32} {median:8.2f} ms  x{median / base:.2f}{mark}")
    if args.json:
        write_json(args.json, {"model": args.model, "batch_size": args.batch_size, "optimizer": args.optimizer,
                               "variants": rows, "bakeoff_variant": ours._asdict()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

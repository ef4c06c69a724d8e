"""Is bakeoff's fast path the fastest way to run this model's step? One model's training step in each precision and
memory layout, alternated round by round in one process, so load changes hit every variant alike.

    python bench/step_variants.py --model basic-cnn --batch-size 128
    python bench/step_variants.py --model fast-net-s --batch-size 512 --optimizer sgd

Variants: bf16 autocast (where the CPU has native bf16) and fp32, each channels-last (bakeoff's choice) and
contiguous NCHW; then bf16 channels-last with one change to the model where it applies (CHANGES): max-pools run
in fp32 or as a reshape and max, or a one-channel first convolution run in fp32 or as one matrix product over
its shifted views. Each round
times `--steps` steps of every variant in turn; the median of `--rounds` rounds is reported, with the variant's
time against bakeoff's own (bf16 channels-last where it applies, else fp32). The step
is bench/train_step.py's (bakeoff's: fused optimizer, gradients set to None, freed memory kept in the heap) on
random 28x28 one-channel images. --json PATH writes {"model", "batch_size", "variants": [{"precision", "layout",
"change", "median_ms", "rounds_ms", "vs_bakeoff"}], "bakeoff_variant"}.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

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


class ReshapeMaxPool(nn.Module):
    """A 2x2 max-pool as a reshape of the channels-last map and a max over the two window axes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x[:, :, :h // 2 * 2, :w // 2 * 2].permute(0, 2, 3, 1)
        return x.reshape(n, h // 2, 2, w // 2, 2, c).amax((2, 4)).permute(0, 3, 1, 2)


class Fp32Conv(nn.Conv2d):
    """A convolution run in fp32 outside autocast."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):
            return super().forward(x.float())


class ShiftedViewsConv(nn.Conv2d):
    """A convolution of a one-channel image as one matrix product: its k*k shifted views stacked as the last
    axis, times the (k*k, out) weights, which gives the channels-last output directly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, pad = self.kernel_size[0], self.padding[0]
        x = F.pad(x, (pad,) * 4)[:, 0] if pad else x[:, 0]
        ho, wo = x.shape[1] - k + 1, x.shape[2] - k + 1
        views = torch.stack([x[:, i:i + ho, j:j + wo] for i in range(k) for j in range(k)], dim=-1)
        out = views @ self.weight.reshape(self.out_channels, k * k).t()
        out = out + self.bias if self.bias is not None else out
        return out.permute(0, 3, 1, 2)


def replace_modules(model: nn.Module, match, make, first_only: bool = False) -> int:
    """Replace the modules of `model` for which `match(module)` holds by `make(module)` (only the first one, in
    definition order, with `first_only`); returns how many were replaced."""
    replaced = 0
    for name, child in model.named_children():
        if first_only and replaced:
            break
        if match(child):
            setattr(model, name, make(child))
            replaced += 1
        else:
            replaced += replace_modules(child, match, make, first_only)
    return replaced


def _conv_as(cls):
    def make(conv: nn.Conv2d) -> nn.Conv2d:
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                  bias=conv.bias is not None)
        new.load_state_dict(conv.state_dict())
        return new
    return make


def _first_conv_is_one_channel(model: nn.Module) -> bool:
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return first is not None and first.in_channels == 1 and first.stride == (1, 1) and first.groups == 1


def _no_inplace(model: nn.Module) -> None:
    """A max over reshaped axes keeps its output for the backward pass: an in-place ReLU after it would spoil it."""
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = False


def _reshape_pools(model: nn.Module) -> None:
    _no_inplace(model)
    replace_modules(model, lambda m: isinstance(m, nn.MaxPool2d) and m.kernel_size in (2, (2, 2))
                    and m.stride in (2, (2, 2)) and m.padding in (0, (0, 0)), lambda m: ReshapeMaxPool())


# A change to the model (applied to the bf16 channels-last step), and whether it applies to a model.
CHANGES = {
    "fp32 pools": (lambda m: replace_modules(m, lambda c: isinstance(c, nn.MaxPool2d), Fp32MaxPool),
                   lambda m: any(isinstance(c, nn.MaxPool2d) for c in m.modules())),
    "pools as reshape + max": (_reshape_pools, lambda m: any(isinstance(c, nn.MaxPool2d) for c in m.modules())),
    "first conv in fp32": (lambda m: replace_modules(m, lambda c: isinstance(c, nn.Conv2d), _conv_as(Fp32Conv),
                                                     first_only=True), _first_conv_is_one_channel),
    "first conv as one matmul": (lambda m: replace_modules(m, lambda c: isinstance(c, nn.Conv2d),
                                                           _conv_as(ShiftedViewsConv), first_only=True),
                                 _first_conv_is_one_channel),
}


class Variant(NamedTuple):
    precision: str  # "bf16" or "fp32"
    layout: str  # a key of LAYOUTS
    change: str | None = None  # a key of CHANGES

    def label(self) -> str:
        return f"{self.precision}, {self.layout}" + (f", {self.change}" if self.change else "")


def variants(model: nn.Module) -> list[Variant]:
    """The variants this CPU can run for `model`; bakeoff's own choice first."""
    precisions = ["bf16", "fp32"] if cpu_has_bf16() else ["fp32"]
    found = [Variant(p, layout) for p in precisions for layout in LAYOUTS]
    if cpu_has_bf16():
        found += [Variant("bf16", "channels-last", name) for name, (_, applies) in CHANGES.items() if applies(model)]
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
        if variant.change:
            CHANGES[variant.change][0](model)
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
        print(f"  {variant.label():48} {median:8.2f} ms  x{median / base:.2f}{mark}")
    if args.json:
        write_json(args.json, {"model": args.model, "batch_size": args.batch_size, "optimizer": args.optimizer,
                               "variants": rows, "bakeoff_variant": ours._asdict()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

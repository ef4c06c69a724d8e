"""Where a training step's time goes: torch.profiler over bakeoff's fast path for one model, per operator and
input shape, plus the step time without the profiler.

    python bench/step_profile.py --model basic-cnn --batch-size 128
    python bench/step_profile.py --model fast-net-s --batch-size 512 --optimizer sgd

The step is the one bakeoff trains with (channels-last, bf16 autocast where the CPU has it, fused optimizer,
gradients set to None, freed memory kept in the heap) on random 28x28 one-channel images (--size and
--channels for others). Prints the profiler's table (self CPU time, sorted) and writes it with --json PATH.

The step is also read against the yardstick (bench/yardstick.py), measured in this process
before the step, with the same threads: the training FLOPs bakeoff counts per image (engine/metrics.train_mflops,
forward and backward) x images per second, as a fraction of this machine's peak in the same precision. A step
at a third of the peak is limited by its convolution and pooling kernels, not by its FLOP count. JSON keys beside
"step_ms": "images_per_s", "train_mflops", "train_gflops_per_s", "fraction_of_peak", "peak_bf16_gflops"
("peak_fp32_gflops" on a CPU without native bf16) and "normalized_step_ms" (step_ms x peak / 420).
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
from torch.profiler import profile

from bakeoff.engine.device import resolve_precision
from bakeoff.errors import BakeoffError
from bakeoff.engine.heap import keep_freed_memory
from bakeoff.engine.metrics import train_mflops
from yardstick import describe, measure_yardstick, normalized_seconds, yardstick_fields
from bakeoff.models import create_model
from results_file import write_json
from train_step import CPU, bench_optimizer, training_step


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--steps", type=int, default=20, help="profiled steps (default: 20)")
    p.add_argument("--rows", type=int, default=15, help="operators shown (default: 15)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()

    keep_freed_memory()
    precision = resolve_precision("auto", CPU)
    peak = measure_yardstick()  # the precision of the peak is the step's: both follow cpu_has_bf16()
    torch.manual_seed(0)
    try:
        model = create_model(args.model, num_classes=10, in_chans=args.channels, img_size=args.size)
    except BakeoffError as e:  # an unknown model or a size it cannot take: one line, not a traceback
        sys.exit(f"step_profile: {e}")
    model = model.to(memory_format=torch.channels_last)
    step = training_step(model, bench_optimizer(model, args.optimizer), precision)
    x = torch.randn(args.batch_size, args.channels, args.size, args.size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch_size,))

    for _ in range(5):
        step(x, y)
    start = time.perf_counter()
    for _ in range(args.steps):
        step(x, y)
    step_ms = 1000 * (time.perf_counter() - start) / args.steps
    with profile(record_shapes=True) as prof:
        for _ in range(args.steps):
            step(x, y)
    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    images_per_s = args.batch_size / (step_ms / 1000)
    mflops = train_mflops(model, args.channels, args.size)
    gflops = mflops * images_per_s / 1e3
    fraction = gflops / peak["gflops"]
    print(f"{args.model} batch {args.batch_size} ({precision}): {step_ms:.2f} ms per step without the profiler, "
          f"{images_per_s:,.0f} images/s")
    print(f"  {mflops:.1f} training MFLOPs per image: {gflops:.0f} GFLOP/s, {fraction:.2f} of the peak measured "
          f"in this process ({describe(peak)}); normalized step {normalized_seconds(step_ms, peak['gflops']):.2f} ms")
    print(f"{'share':>6} {'ms/step':>8}  operator  input shapes")
    rows = []
    for e in events[:args.rows]:
        ms = e.self_cpu_time_total / 1000 / args.steps
        rows.append({"op": e.key, "shapes": str(e.input_shapes), "ms_per_step": ms,
                     "share": e.self_cpu_time_total / total})
        print(f"{100 * rows[-1]['share']:5.1f}% {ms:8.2f}  {e.key}  {e.input_shapes}")
    if args.json:
        write_json(args.json, {"model": args.model, "batch_size": args.batch_size, "precision": precision,
                               "step_ms": step_ms, "normalized_step_ms": normalized_seconds(step_ms, peak["gflops"]),
                               "images_per_s": images_per_s, "train_mflops": mflops, "train_gflops_per_s": gflops,
                               "fraction_of_peak": fraction, **yardstick_fields(peak["gflops"], peak["precision"]),
                               "ops": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

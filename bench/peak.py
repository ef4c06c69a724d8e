"""This machine's matrix-product peak through PyTorch: fp32 and bf16 GFLOP/s, the yardstick for training throughput.

Times square (n, n) @ (n, n) products (2 n^3 FLOPs each) for every --sizes n, after warm-up calls,
and keeps each size's median of --repeats; the peak is the best size. Uses torch.get_num_threads()
threads (or --threads). Prints the numbers and writes JSON with --json PATH:
{"fp32_gflops", "bf16_gflops", "threads", "torch", "cpu", "bf16_native", "sizes": {n: {"fp32", "bf16"}}, "repeats"}.
Other benches turn a measured GFLOP/s into a fraction of it with matmul_peak.fraction_of_peak, and
measure a quicker version themselves (yardstick.py) to normalize their times to the 420 GFLOP/s
bf16 peak of the machine the documented times came from; the last line here gives that factor.
On a CPU without native bf16 (AVX512-BF16 or AMX) the bf16 number is emulated and far below fp32.

    python bench/peak.py --json bench/results/peak.json
"""
from __future__ import annotations

import argparse
import sys

import torch

from bakeoff.engine.device import cpu_has_bf16
from matmul_peak import measure_peak
from yardstick import REFERENCE_GFLOPS
from results_file import write_json


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="2048,4096", help="matrix sizes n, comma-separated (default: 2048,4096)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed products per size and dtype; the median counts (default: 5)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="torch threads (default: torch.get_num_threads(), here %(default)s)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    peak = {**measure_peak(sizes, args.repeats), "bf16_native": cpu_has_bf16()}
    print(f"{peak['cpu']}, {peak['threads']} threads, torch {peak['torch']}, native bf16: {peak['bf16_native']}")
    for n, r in peak["sizes"].items():
        print(f"  n={n:>5}  fp32 {r['fp32']:7.1f} GFLOP/s   bf16 {r['bf16']:7.1f} GFLOP/s")
    print(f"peak: fp32 {peak['fp32_gflops']:.1f} GFLOP/s, bf16 {peak['bf16_gflops']:.1f} GFLOP/s "
          f"(median of {args.repeats} per size, best size)")
    yard = "bf16" if peak["bf16_native"] else "fp32"  # the precision bakeoff trains in here
    factor = peak[f"{yard}_gflops"] / REFERENCE_GFLOPS
    print(f"yardstick ({yard}): {factor:.2f}x the {REFERENCE_GFLOPS:.0f} GFLOP/s reference; "
          f"normalized seconds = seconds here x {factor:.2f}")
    if args.json:
        write_json(args.json, peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The yardstick: this machine's matrix-product peak, measured in seconds, so a benchmark's time can be normalized.

Hosts of two CPU generations run these benchmarks, with a bf16 matrix product anywhere from about 190 to 880
GFLOP/s; the same Fashion-MNIST preset took 86 s on one and 166 s on another. A time is therefore reported
with the peak measured in the same run and normalized to the 420 GFLOP/s machine the earlier numbers came
from (`bench/peak.py` measured 419 there): normalized seconds = seconds x measured peak / 420. A run on a
machine twice as fast counts as twice as long, so the targets hold on any host.

The peak is that of the precision bakeoff trains in here (`resolve_precision('auto')`): bf16 on CPUs with
native bf16 (AVX512-BF16 or AMX), fp32 on the others, where bf16 is emulated, far below fp32, and not what
training uses. The reference stays 420 either way: a machine with 420 GFLOP/s in the precision it trains in.
"""
from __future__ import annotations

import math

import torch

from bakeoff.engine.device import cpu_has_bf16
from matmul_peak import matmul_gflops  # bench/ is the script's folder, as for results_file

REFERENCE_GFLOPS = 420.0  # bf16 peak of the machine README's and docs/speed.md's times were measured on (419)
SIZES = (2048, 4096)  # as `bench/peak.py`, which measured the reference: the best of these sizes is the peak
REPEATS = 3  # timed products per size, median kept: about 2 s in all at 420 GFLOP/s (5 in bench/peak.py)


def measure_yardstick(sizes: tuple[int, ...] = SIZES, repeats: int = REPEATS, warmup: int = 2) -> dict:
    """This CPU's peak GFLOP/s in the precision bakeoff trains in: the best over `sizes` of each size's median.

    Returns {"gflops", "precision" ('bf16' or 'fp32'), "bf16_native", "threads", "sizes", "repeats"}.
    """
    native = cpu_has_bf16()
    dtype = torch.bfloat16 if native else torch.float32
    gflops = max(matmul_gflops(n, dtype, repeats, warmup) for n in sizes)
    return {"gflops": gflops, "precision": "bf16" if native else "fp32", "bf16_native": native,
            "threads": torch.get_num_threads(), "sizes": list(sizes), "repeats": repeats}


def normalized_seconds(seconds: float, peak_gflops: float, reference: float = REFERENCE_GFLOPS) -> float:
    """`seconds` on this machine as seconds on one whose peak is `reference`: seconds x peak / reference."""
    if not (math.isfinite(peak_gflops) and peak_gflops > 0):
        raise ValueError(f"a peak must be a positive number of GFLOP/s, got {peak_gflops!r}")
    return seconds * peak_gflops / reference


def yardstick_fields(gflops: float, precision: str) -> dict:
    """The JSON keys every benchmark writes beside its times: `peak_bf16_gflops` (`peak_fp32_gflops` on a CPU
    without native bf16), the precision it was measured in, and the reference the times are normalized to."""
    return {f"peak_{precision}_gflops": round(gflops, 1), "peak_precision": precision,
            "reference_gflops": REFERENCE_GFLOPS}


def describe(yardstick: dict) -> str:
    """One line for a benchmark's output: the peak, against the reference."""
    note = "" if yardstick["bf16_native"] else " (no native bf16 on this CPU: fp32, the precision it trains in)"
    return (f"peak {yardstick['gflops']:.0f} GFLOP/s {yardstick['precision']}{note}, "
            f"{yardstick['gflops'] / REFERENCE_GFLOPS:.2f}x the {REFERENCE_GFLOPS:.0f} GFLOP/s reference")

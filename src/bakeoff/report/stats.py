"""Paired tests on the same test images, and the Pareto front of cost against accuracy."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # significance level the report's verdicts use
BOOTSTRAP_SAMPLES = 2000  # resamples for the accuracy-difference interval (percentile method)


@dataclass
class PairedTest:
    """Two classifiers on the same n test images: how often each is right where the other is wrong."""

    n: int
    only_a: int  # images A gets right and B gets wrong
    only_b: int  # images B gets right and A gets wrong
    p_value: float  # McNemar's exact test: two-sided binomial test of only_a vs only_b at 1/2
    diff: float  # accuracy of A minus accuracy of B
    ci_low: float  # 95% paired-bootstrap interval of diff
    ci_high: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: P(a split at least this uneven | discordant pairs split 50/50).

    Only the discordant images count; with none, the two are indistinguishable (p = 1).
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n  # exact integers: no overflow for any n
    return min(1.0, 2 * tail)


def paired_test(correct_a: np.ndarray, correct_b: np.ndarray, seed: int = 0) -> PairedTest:
    """McNemar's exact test and a paired-bootstrap 95% interval of the accuracy difference."""
    a = np.asarray(correct_a, bool)
    b = np.asarray(correct_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired test needs the same images: {a.shape} vs {b.shape}")
    n = a.size
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(b & ~a))
    low, high = bootstrap_diff_interval(only_a, only_b, n, seed=seed)
    return PairedTest(n=n, only_a=only_a, only_b=only_b, p_value=mcnemar_exact(only_a, only_b),
                      diff=(only_a - only_b) / n, ci_low=low, ci_high=high)


def bootstrap_diff_interval(only_a: int, only_b: int, n: int, level: float = 0.95,
                            samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of acc(A) - acc(B) when the n images are resampled with replacement.

    Each image contributes +1 (only A right), -1 (only B right) or 0, so resampling
    images is a multinomial draw over those three counts: exact, and O(samples) memory.
    """
    if n == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    p = np.array([only_a, only_b, n - only_a - only_b], dtype=float) / n
    draws = rng.multinomial(n, p, size=samples)  # (samples, 3)
    diffs = (draws[:, 0] - draws[:, 1]) / n
    tail = (1 - level) / 2
    return float(np.quantile(diffs, tail)), float(np.quantile(diffs, 1 - tail))


def pareto_front(costs: list[float], scores: list[float]) -> list[int]:
    """Indices of the points no other point beats on both counts (lower or equal cost and higher score)."""
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -scores[i]))
    front, best = [], -math.inf
    for i in order:
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    return front

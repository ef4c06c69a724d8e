"""Holm's correction for a family of tests: the report runs many pairwise tests, and each one alone at 0.05
would call about one in twenty equal pairs different by chance.

Holm (1979) controls the chance of even one false "is better" across the whole family, like Bonferroni,
but rejects at least as often: the smallest p is multiplied by m, the next by m - 1, and so on, each
adjusted p kept at least as large as the one before. statsmodels does the arithmetic.
"""
from __future__ import annotations


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given; compare each with the usual level (0.05)."""
    if not p_values:
        return []
    # imported here: ~1 s, only when a report needs it
    from statsmodels.stats.multitest import multipletests

    _, adjusted, _, _ = multipletests(p_values, method="holm")
    return [float(p) for p in adjusted]

"""Ranks of k models over N datasets, the Friedman test, and the Nemenyi post-hoc (Demšar 2006, JMLR 7:1-30).

Pure numbers, no report: across_datasets.py decides what to say about them. scipy computes the Friedman
statistic and scikit-posthocs the Nemenyi p-values; only the critical difference, the one number Demšar's
diagram draws that neither library returns, is computed here from the studentized range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .stats import ALPHA

MIN_MODELS = 3  # scipy.stats.friedmanchisquare refuses fewer; with 2 models it is a sign test in disguise
MIN_DATASETS = 3  # with 2 datasets every model's average rank is one of a handful of values: nothing to test


@dataclass
class RankTest:
    """k models ranked on N datasets (rank 1 = the highest accuracy; ties share the mean rank)."""

    models: list[str]  # k labels, in the order of the columns below
    datasets: list[str]  # N labels, in the order of the rows below
    ranks: np.ndarray  # (N, k) per-dataset ranks
    statistic: float | None = None  # Friedman chi-square (tie-corrected); None when not tested
    p_value: float | None = None
    nemenyi: np.ndarray | None = None  # (k, k) pairwise Nemenyi p-values, 1 on the diagonal
    critical_difference: float | None = None  # average ranks further apart than this differ at ALPHA
    not_tested: str = ""  # why the Friedman test was not run, in one sentence ('' when it was)

    @property
    def average_ranks(self) -> np.ndarray:
        """(k,) mean rank over the datasets."""
        return self.ranks.mean(axis=0)

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA


def rank_models(accuracy: np.ndarray, models: list[str], datasets: list[str]) -> RankTest:
    """Rank the models on each dataset by accuracy (N, k), then test whether the ranks differ by more than chance."""
    accuracy = np.asarray(accuracy, dtype=float)
    n, k = accuracy.shape
    ranks = stats.rankdata(-accuracy, axis=1, method="average")  # (N, k); negated: the best accuracy is rank 1
    result = RankTest(models=list(models), datasets=list(datasets), ranks=ranks)
    if k < MIN_MODELS or n < MIN_DATASETS:
        result.not_tested = (f"the Friedman test needs at least {MIN_MODELS} models and {MIN_DATASETS} datasets to "
                             f"say anything (here {k} model{'s' * (k != 1)} on {n} dataset{'s' * (n != 1)}); "
                             f"the average ranks are shown, untested")
        return result
    if np.all(ranks == ranks[:, :1]):
        result.not_tested = "every model has the same accuracy on every dataset, so there is no ranking to test"
        return result
    statistic, p_value = stats.friedmanchisquare(*accuracy.T)
    result.statistic, result.p_value = float(statistic), float(p_value)
    result.nemenyi = nemenyi_p_values(accuracy)
    result.critical_difference = critical_difference(k, n)
    return result


def nemenyi_p_values(accuracy: np.ndarray) -> np.ndarray:
    """(k, k) Nemenyi p-values for every pair of columns of the (N, k) accuracy table (scikit-posthocs)."""
    import scikit_posthocs  # imported here: pulls pandas and seaborn (~1.5 s), only for this report

    return scikit_posthocs.posthoc_nemenyi_friedman(np.asarray(accuracy, dtype=float)).to_numpy()


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Demšar's CD = q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile over sqrt(2).

    Two average ranks further apart than this have a Nemenyi p below alpha: the same test, drawn as a length.
    """
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))

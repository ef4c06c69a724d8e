"""Calibration: does a model's confidence match how often it is right, and temperature scaling to fix it.

Expected calibration error after Guo et al. 2017 ("On Calibration of Modern Neural Networks"): the test
images binned by their top probability into 15 equal-width bins (0, 1/15], ..., (14/15, 1]; ECE is the
bin-size-weighted mean |accuracy - mean confidence|. Temperature scaling divides every logit by one
scalar T fitted to minimise the negative log-likelihood on the validation split: it never changes
which class wins (so accuracy is unchanged), only how sure the model says it is. The test split is
only scored, before and after.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

N_BINS = 15  # Guo et al.'s choice, also torchmetrics' and most papers': ECE values stay comparable


def reliability(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = N_BINS) -> dict[str, list]:
    """Per confidence bin: images in it, their mean top probability and their accuracy (None where empty).

    `probs` (N, K) class probabilities, `labels` (N,) int. Bin b holds confidences in (b/n, (b+1)/n].
    """
    confidence, predicted = probs.double().max(dim=1)
    correct = (predicted == labels).double()
    bins = (confidence * n_bins).ceil().long().clamp(1, n_bins) - 1  # (lower, upper]: 1/15 exactly is bin 0
    counts = torch.bincount(bins, minlength=n_bins)
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bins, confidence)
    correct_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bins, correct)
    return {"count": counts.tolist(),
            "confidence": [float(c / n) if n else None for c, n in zip(conf_sum, counts)],
            "accuracy": [float(a / n) if n else None for a, n in zip(correct_sum, counts)]}


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = N_BINS) -> float:
    """ECE: sum over bins of (images in bin / N) x |accuracy - mean confidence|, in 0..1."""
    return ece_of_bins(reliability(probs, labels, n_bins))


def ece_of_bins(bins: dict[str, list]) -> float:
    total = sum(bins["count"])
    return sum(n / total * abs(a - c) for n, a, c in zip(bins["count"], bins["accuracy"], bins["confidence"]) if n)


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true class (cross-entropy) of logits / temperature."""
    return F.cross_entropy(logits.double() / temperature, labels).item()


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 that minimises the NLL of logits / T: L-BFGS on log T (so T stays positive), from T = 1."""
    logits, labels = logits.detach().double(), labels.detach()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    with torch.enable_grad():  # callers may evaluate under inference_mode
        optimizer.step(closure)
    t = log_t.exp().item()
    return t if math.isfinite(t) else 1.0


def calibrate(val_logits: torch.Tensor, val_labels: torch.Tensor, test_logits: torch.Tensor,
              test_labels: torch.Tensor) -> tuple[dict, dict]:
    """Fit T on validation, score the test split before and after: (metrics for metrics.json, reliability bins).

    Without validation images (--val-fraction 0) nothing is fitted: T = 1 and the 'after' numbers equal 'before'.
    """
    has_val = val_labels.numel() > 0
    t = fit_temperature(val_logits, val_labels) if has_val else 1.0
    test_logits = test_logits.double()
    before = reliability(torch.softmax(test_logits, 1), test_labels)
    after = reliability(torch.softmax(test_logits / t, 1), test_labels)
    metrics = {"temperature": t, "ece": ece_of_bins(before), "ece_calibrated": ece_of_bins(after),
               "nll": nll(test_logits, test_labels), "nll_calibrated": nll(test_logits, test_labels, t)}
    if has_val:
        metrics.update(val_nll=nll(val_logits, val_labels), val_nll_calibrated=nll(val_logits, val_labels, t))
    return metrics, {"n_bins": N_BINS, "before": before, "after": after}

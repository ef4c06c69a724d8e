"""--freeze probe: the linear probe, the simplest strong baseline a pretrained model owes its comparison.

The backbone is frozen and run once over the training and validation images; the final linear layer is then
fitted to those features by multinomial logistic regression with L-BFGS (scikit-learn), its L2 strength chosen
on the validation split, as in CLIP's linear-probe protocol (Radford et al. 2021). Not epochs of SGD: a solver,
so the stage writes one history row, numbered and labelled like any other. With --finetune-blocks N the
fine-tuning starts from the fitted layer (stages.py), which keeps what the probe found.

Measured on clothing-photos (efficientnet-lite0, ImageNet weights, 224 px, 10% of train/ for validation): the
probe's validation accuracy over C = 0.01..10 spanned 85.6-87.9%; see docs/transfer-learning.md.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from .epoch import Split
from .features import extract_features
from .loop import FitResult

PROBE_C = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # inverse L2 strengths, chosen on validation
DEFAULT_C = 1.0  # scikit-learn's, where there is no validation split to choose with
MAX_ITER = 1000  # L-BFGS iterations per fit: enough for 1,280-d features of a few thousand images


def fit_probe(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, stage: str = "probe",
              on_epoch=None, history_before: list[dict] | None = None, **_) -> tuple[FitResult, dict]:
    """Fit the model's final linear layer on its frozen features; the strength with the best validation accuracy
    (ties: the lower validation loss) is kept. Returns fit's result shape and the probe's numbers."""
    classifier = model.get_classifier()
    if not isinstance(classifier, nn.Linear):
        raise ConfigError(f"--freeze probe fits a final linear layer; {cfg.model}'s is {type(classifier).__name__}")
    start = time.perf_counter()
    x_train, x_val = _pre_logits(model, train, device, precision), _pre_logits(model, val, device, precision)
    cache_seconds = time.perf_counter() - start
    y_train, y_val = train.y.numpy(), (val.y.numpy() if val is not None else None)
    num_classes = classifier.out_features
    fits = {c: _fit(x_train, y_train, c, num_classes, classifier.bias is not None)
            for c in (PROBE_C if x_val is not None and len(x_val) else (DEFAULT_C,))}
    scores = {c: _scores(w, b, x_val, y_val) for c, (w, b) in fits.items()} if len(fits) > 1 else {}
    best = max(scores, key=lambda c: (scores[c][1], -scores[c][0])) if scores else next(iter(fits))
    weight, bias = fits[best]
    with torch.no_grad():
        classifier.weight.copy_(torch.from_numpy(weight))
        if classifier.bias is not None:
            classifier.bias.copy_(torch.from_numpy(bias))
    seconds = time.perf_counter() - start
    train_loss, train_acc = _scores(weight, bias, x_train, y_train)
    val_loss, val_acc = _scores(weight, bias, x_val, y_val) if x_val is not None and len(x_val) else (math.nan,) * 2
    before = history_before or []
    row = {"epoch": len(before) + 1, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
           "val_acc": val_acc, "lr": math.nan, "seconds": seconds, "stage": stage}
    if on_epoch is not None:
        on_epoch(before + [row])
    cached = sum(a.nbytes // 2 for a in (x_train, x_val) if a is not None)  # held as float32 by the model
    info = {"feature_cache": True, "feature_cache_seconds": cache_seconds, "feature_cache_mb": cached / 2**20,
            "probe_c": best,
            "probe_val_acc_by_c": {str(c): s[1] for c, s in scores.items()},
            "trainable_params": sum(p.numel() for p in classifier.parameters())}
    result = FitResult(before + [row], len(before) + 1, False, len(train) / max(seconds, 1e-9), 0, len(train),
                       seconds)
    return result, info


def _pre_logits(model: nn.Module, split: Split | None, device, precision) -> np.ndarray | None:
    """(N, D) float64: what the final linear layer reads, for every image of the split (backbone run once)."""
    if split is None:
        return None
    features = extract_features(model, split.x, device, precision)
    with torch.no_grad():
        return model.forward_head(features.to(device), pre_logits=True).double().cpu().numpy()


def _fit(x: np.ndarray, y: np.ndarray, c: float, num_classes: int, intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """(weight (K, D), bias (K,)) float32 of multinomial logistic regression; a class absent from `y` gets a bias
    far below the others, so it is never predicted (it cannot be learned from no example)."""
    from sklearn.linear_model import LogisticRegression  # scikit-learn: 1-3 s to import, only for a probe

    clf = LogisticRegression(C=c, max_iter=MAX_ITER, fit_intercept=intercept).fit(x, y)
    weight = np.zeros((num_classes, x.shape[1]), dtype=np.float32)
    bias = np.full(num_classes, -1e4, dtype=np.float32)
    coef, icpt = clf.coef_, clf.intercept_ if intercept else np.zeros(len(clf.classes_))
    if len(clf.classes_) == 2:  # scikit-learn keeps one row for two classes: logit of the second against the first
        coef, icpt = np.vstack([-coef / 2, coef / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
    weight[clf.classes_] = coef
    bias[clf.classes_] = icpt
    return weight, bias


def _scores(weight: np.ndarray, bias: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the linear layer on features `x` with labels `y`."""
    logits = x @ weight.T.astype(np.float64) + bias
    logits -= logits.max(1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean()), float((logits.argmax(1) == y).mean())

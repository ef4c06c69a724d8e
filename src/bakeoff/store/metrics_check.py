"""What a run's metrics.json must hold before compare, the leaderboard and the report trust it.

A metrics.json edited by hand, cut short by another tool or from a foreign program (a list, a missing
`test_acc`, a string where a number goes) is not a finished run: compare trains it again and the
report lists it as damaged, in one line, instead of failing on a KeyError deep in a figure.
"""
from __future__ import annotations

import math

STATUSES = ("finished", "failed", "interrupted")
# Read with [] by the leaderboard and the report: a finished run must have each, as a finite number.
REQUIRED = ("test_acc", "test_loss", "train_acc", "params", "mflops", "n_train", "n_val", "n_test")
# Read with .get(): absent or null is fine, anything else must be a number.
OPTIONAL = ("val_acc", "val_loss", "train_seconds", "seconds_per_epoch", "images_per_s", "infer_ms",
            "peak_memory_mb", "best_epoch", "epochs_run", "train_gflops_per_s", "real_acc")
# Present together or not at all: the first key of each group switches on a block of the report.
GROUPS = (("probe_ae_acc", "probe_pca_acc", "probe_dim", "pca_components", "probe_train_images", "test_recon_mse",
           "pca_recon_mse", "noise_shown"),
          ("reconstruct_epochs", "reconstruct_seconds"),
          ("real_acc", "n_real"),
          ("feature_cache_seconds", "feature_cache_mb"))
ACCURACIES = ("test_acc", "train_acc", "val_acc", "real_acc", "probe_ae_acc", "probe_pca_acc")


def damage(metrics: object) -> str | None:
    """Why `metrics` cannot be trusted (one short phrase), or None when it can."""
    if not isinstance(metrics, dict):
        return f"is a {type(metrics).__name__}, not an object"
    status = metrics.get("status")
    if status not in STATUSES:
        return f"has status {str(status)[:40]!r}, not one of {', '.join(STATUSES)}"
    if not _is_int(metrics.get("seed")):
        return "has no integer seed"
    if status != "finished":
        return None if isinstance(metrics.get("reason", ""), str) else "has a reason that is not text"
    missing = [k for k in REQUIRED if not _is_number(metrics.get(k))]
    missing += [k for group in GROUPS if group[0] in metrics and metrics[group[0]] is not None
                for k in group[1:] if not _is_number(metrics.get(k))]
    if missing:
        return f"lacks {', '.join(missing)} (or they are not numbers)"
    wrong = [k for k in OPTIONAL if metrics.get(k) is not None and not _is_number(metrics[k])]
    if wrong:
        return f"has {', '.join(wrong)} that are not numbers"
    outside = [k for k in ACCURACIES if metrics.get(k) is not None and not 0 <= metrics[k] <= 1]
    if outside:
        return f"has {', '.join(outside)} outside 0..1"
    return None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)

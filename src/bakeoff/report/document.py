"""The whole report, in order: what each section says, before any writer turns it into HTML or Markdown."""
from __future__ import annotations

import time

from ..store.comparison import Comparison
from . import (
    cost,
    overview,
    per_model,
    ranking,
    real_photos,
    significance,
    training,
    why,
)
from .blocks import Document
from .figures import plain_text


def build_document(cmp: Comparison, ds, ds_note: str) -> Document:
    """Sections 1-8 of the report; the sweep heatmap only when optimizers or learning rates were swept."""
    with plain_text():  # figures are drawn while the document is built
        return _document(cmp, ds, ds_note)


def _document(cmp: Comparison, ds, ds_note: str) -> Document:
    parts = overview.summary(cmp, ds, ds_note)
    parts.append(ranking.leaderboard(cmp))
    parts.append(significance.significance(cmp))
    parts.append(training.learning_curves(cmp))
    sweep = training.sweep(cmp)
    if sweep is not None:
        parts.append(sweep)
    parts.append(cost.cost(cmp))
    parts += [why.calibration(cmp), why.robustness(cmp), why.gradcam(cmp, ds, ds_note)]  # why one model wins
    real = real_photos.real_photos(cmp)
    if real is not None:
        parts.append(real)
    if cmp.finished_rows:
        parts += per_model.model_sections(cmp, ds)
    disagreements = per_model.disagreements(cmp, ds, ds_note)
    if disagreements is not None:
        parts.append(disagreements)
    subtitle = (f"{len(cmp.runs)} runs in {cmp.out.resolve().name}/ · report written "
                f"{time.strftime('%Y-%m-%d %H:%M')} · rebuild with: bakeoff report {cmp.out}")
    return Document(f"bakeoff report: {cmp.dataset['name']}", subtitle, parts)

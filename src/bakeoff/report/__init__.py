"""The comparison report: OUT/report.html (one offline file) and OUT/report.md with OUT/figures/, from run folders alone.

collect.py reads the folder; overview, ranking, significance, training, cost and per_model (with
autoencoder) decide what each section says, drawing with figures.py and counting with stats.py and
summary.py; document.py puts the sections in order; html.py and markdown.py write it.
"""
from __future__ import annotations

from pathlib import Path

from .collect import Comparison, collect, reload_dataset
from .document import build_document
from .html import write_html
from .markdown import write_markdown


def build_report(out: str | Path, dataset=None) -> Path:
    """Write OUT/report.html, OUT/report.md and OUT/figures/*.png; return the HTML path.

    `dataset` is the already-loaded Dataset when the caller has it (compare does);
    otherwise it is loaded again from the runs' config for the image grids.
    """
    out = Path(out)
    cmp = collect(out)
    ds, note = reload_dataset(cmp, dataset)
    doc = build_document(cmp, ds, note)
    write_markdown(doc, out / "report.md", out / "figures")
    return write_html(doc, out / "report.html")


__all__ = ["Comparison", "build_report", "collect"]

"""The comparison report: OUT/report.html (one offline file) and OUT/report.md with OUT/figures/, from run folders alone.

collect.py reads the folder; overview, ranking, significance, training, cost and per_model (with
autoencoder) decide what each section says, drawing with figures.py and counting with stats.py and
summary.py; document.py puts the sections in order; html.py and markdown.py write it.
across_datasets.py is the report over several comparison folders (one per dataset): average ranks, the
Friedman test and Nemenyi post-hoc (friedman.py), the critical-difference diagram (cd_diagram.py).
"""
from __future__ import annotations

from pathlib import Path

from .across_datasets import build_cross_dataset_report
from .collect import Comparison, collect, reload_dataset
from ..runlock import disk_errors
from .document import build_document
from .figures import plain_text
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
    with plain_text():  # figures are drawn while the document is built
        doc = build_document(cmp, ds, note)
    with disk_errors(out):  # a read-only OUT: one line, not a traceback
        write_markdown(doc, out / "report.md", out / "figures")
        return write_html(doc, out / "report.html")


__all__ = ["Comparison", "build_cross_dataset_report", "build_report", "collect"]

"""The comparison report: OUT/report.html (one offline file) and OUT/report.md with OUT/figures/, from run folders alone.

store/comparison.py reads the folder; overview, ranking, significance, training, cost and per_model (with
autoencoder) decide what each section says, drawing with figures.py and counting with stats.py and
summary.py; document.py puts the sections in order; html.py and markdown.py write it.
across_datasets.py is the report over several comparison folders (one per dataset): average ranks, the
Friedman test and Nemenyi post-hoc (friedman.py), the critical-difference diagram (cd_diagram.py).
"""
from __future__ import annotations

from pathlib import Path

from ..files import disk_errors
from ..store.comparison import collect, Comparison, reload_dataset
from . import fingerprint
from .html import write_html
from .markdown import write_markdown


def build_report(out: str | Path, dataset=None, only_if_changed: bool = False) -> Path:
    """Write OUT/report.html, OUT/report.md and OUT/figures/*.png; return the HTML path.

    `dataset` is the already-loaded Dataset when the caller has it (compare does);
    otherwise it is loaded again from the runs' config for the image grids.
    `only_if_changed` (compare): keep the report when nothing it is drawn from changed since it was
    written (fingerprint.py), so a rerun with nothing to train returns in seconds.
    """
    out = Path(out)
    if only_if_changed and fingerprint.is_current(out, images=True if dataset is not None else None):
        return out / "report.html"
    try:
        fingerprint.forget(out)  # a report that fails half-written is never taken for current
    except OSError:
        pass  # OUT is no folder, or read-only: collect, or writing the report below, says so in one line
    before = fingerprint.fingerprint(out, images=False)  # what this report is drawn from: taken before reading

    # Late: the drawing modules (matplotlib, SciPy, scikit-learn: 2-4 s to import) load only when a report is
    # drawn, so a rerun with nothing to train, whose report is current, returns in seconds.
    from .document import build_document

    cmp = collect(out)
    ds, note = reload_dataset(cmp, dataset)
    doc = build_document(cmp, ds, note)
    with disk_errors(out):  # a read-only OUT: one line, not a traceback
        write_markdown(doc, out / "report.md", out / "figures")
        path = write_html(doc, out / "report.html")
        fingerprint.save(out, {**before, "images": not note})
    return path


def build_cross_dataset_report(out: Path, comparison_dirs: list[Path]) -> Path:
    """OUT/report.html and report.md ranking the models over several comparison folders (across_datasets.py)."""
    # late, as build_report's drawing modules (matplotlib, SciPy)
    from .across_datasets import write_cross_dataset_report

    return write_cross_dataset_report(out, comparison_dirs)


__all__ = ["Comparison", "build_cross_dataset_report", "build_report", "collect"]

"""A finished comparison as Python objects: the leaderboard as a DataFrame, the runs, the best model, the report.

Everything is read from the comparison folder (OUT), so `bakeoff.load(OUT)` gives the same object as the
`bakeoff.compare(...)` that wrote it, in another session or on another machine.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BakeoffError, unknown_choice
from .report import build_cross_dataset_report, build_report
from .serve.python_model import TrainedModel
from .store.comparison import collect
from .store.runfolder import GRID_FILE

REPORT_HEIGHT_PX = 720  # the inline report's frame; the report scrolls inside it


@dataclass
class RunInfo:
    """One training run: its id (folder name), resolved config, final metrics, per-epoch history, folder."""

    id: str
    config: dict
    metrics: dict  # metrics.json; status 'finished', 'failed', 'interrupted' or 'missing'
    path: Path
    history: list[dict] = field(default_factory=list, repr=False)  # history.csv rows

    @property
    def status(self) -> str:
        return str(self.metrics.get("status"))


class Report:
    """The comparison's HTML report: shown inline by Jupyter (`_repr_html_`), kept on disk at `path`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.markdown = self.path.with_suffix(".md")

    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def _repr_html_(self) -> str:
        # In an iframe: the report is a whole page whose styles and scripts must not restyle the notebook.
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" title="bakeoff report" '
                f'style="width: 100%; height: {REPORT_HEIGHT_PX}px; border: 1px solid #ddd"></iframe>')

    def open(self) -> None:
        """Open the report in the web browser."""
        import webbrowser

        webbrowser.open(self.path.resolve().as_uri())

    def __repr__(self) -> str:
        return f"Report({self.path})"


class ComparisonResult:
    """What `bakeoff.compare` returns and `bakeoff.load` reopens.

    - `leaderboard`: a pandas DataFrame, leaderboard.csv's rows and columns (best validation accuracy first;
      accuracies as fractions 0..1)
    - `runs`: every run as a RunInfo
    - `best`: the best row's best seed as a TrainedModel, with `predict(images)`
    - `report()`: the HTML report, shown inline in Jupyter
    A comparison over several datasets has one part per dataset in `parts`; its leaderboard has a
    `dataset` column first and its report is the one across datasets.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.parts: dict[str, ComparisonResult] = {}
        if not (self.path / GRID_FILE).is_file():
            parts = sorted(p for p in self.path.iterdir() if (p / GRID_FILE).is_file()) if self.path.is_dir() else []
            if not parts:
                raise BakeoffError(f"{self.path}: not a bakeoff comparison folder (no {GRID_FILE} in it or in its "
                                   f"subfolders); `bakeoff.compare(..., out='{self.path}')` makes one")
            self.parts = {p.name: ComparisonResult(p) for p in parts}

    @property
    def leaderboard(self):
        """leaderboard.csv as a pandas DataFrame (its column order; raw numbers)."""
        import pandas as pd

        if self.parts:
            frames = [part.leaderboard.assign(dataset=name) for name, part in self.parts.items()]
            table = pd.concat(frames, ignore_index=True)
            return table[["dataset", *[c for c in table.columns if c != "dataset"]]]
        path = self.path / "leaderboard.csv"
        if not path.is_file():
            raise BakeoffError(f"{path}: no leaderboard yet (the comparison did not finish; `bakeoff compare` "
                               f"with the same options resumes it)")
        return pd.read_csv(path)

    @property
    def runs(self) -> list[RunInfo]:
        """Every run of the grid, in grid order (model-major), finished or not."""
        if self.parts:
            return [run for part in self.parts.values() for run in part.runs]
        return [RunInfo(r.run_id, r.config, r.metrics, r.dir, r.history) for r in self._collected().runs]

    @property
    def best(self):
        """The model of the best leaderboard row (by validation accuracy), its best seed: a TrainedModel."""
        if self.parts:
            raise BakeoffError(f"a comparison over {len(self.parts)} datasets has a best model per dataset: "
                               f"choose one, e.g. result.parts['{next(iter(self.parts))}'].best")
        return self.model()

    def model(self, run: str | None = None, calibrated: bool = False, crop: bool = True):
        """A run's model by its id (default: the best), optionally with calibrated probabilities."""
        if run is None:
            cmp = self._collected()
            chosen = next((cmp.representative(row) for row in cmp.finished_rows), None)
            if chosen is None:
                raise BakeoffError(f"{self.path}: no finished run to load a model from")
            run = chosen.run_id
        ids = [r.id for r in self.runs]
        if run not in ids:
            raise unknown_choice("run", run, ids)
        return TrainedModel(self.path / run, calibrated_probs=calibrated, crop=crop)

    def report(self, rebuild: bool = False) -> Report:
        """The HTML report (report.html; report.md beside it), built if missing or when `rebuild`."""
        path = self.path / "report.html"
        if rebuild or not path.is_file():
            if self.parts:
                path = build_cross_dataset_report(self.path, list(self.path / name for name in self.parts))
            else:
                path = build_report(self.path)
        return Report(path)

    def _collected(self):
        return collect(self.path)

    def __repr__(self) -> str:
        if self.parts:
            return f"ComparisonResult({self.path}: {len(self.parts)} datasets: {', '.join(self.parts)})"
        runs = self.runs
        done = sum(r.status == "finished" for r in runs)
        return f"ComparisonResult({self.path}: {done} of {len(runs)} runs finished)"

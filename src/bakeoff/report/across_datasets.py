"""Which model is best across several datasets: one report over several comparison folders, one per dataset.

A "model" here is a leaderboard row's configuration less the dataset (model, optimizer, lr, augment, and
whatever else leaderboard.ROW_KEY names). On each dataset the models are ranked by mean test accuracy;
the Friedman test asks whether the average ranks differ by more than chance, the Nemenyi post-hoc which
pairs do (Demšar 2006). This describes the models; it chooses nothing, so the test split may rank here.

Reads only each folder's leaderboard.csv and grid.json; writes OUT/report.html, OUT/report.md, OUT/figures/.
"""
from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import files
from ..errors import BakeoffError
from ..files import disk_errors
from ..store.leaderboard import fmt, OPTION_COLUMNS, pct, ROW_KEY
from ..store.runfolder import GRID_FILE
from .blocks import Cell, cell, Document, Figure, Section, slug, Table, Text
from .cd_diagram import cd_diagram
from .figures import plain_text
from .friedman import rank_models, RankTest
from .html import write_html
from .markdown import write_markdown
from .stats import ALPHA

LEADERBOARD_FILE = "leaderboard.csv"  # written by compare beside grid.json
# What makes two rows on two datasets the same model: the row's coordinates and any option that differs between rows
IDENTITY = (*ROW_KEY, *OPTION_COLUMNS)


@dataclass
class DatasetBoard:
    """One comparison folder: its dataset and its leaderboard rows, numbers parsed, best validation first."""

    dir: Path
    name: str  # the dataset's name; the folder's name is added where two folders hold the same dataset
    dataset: dict  # grid.json "dataset": name, classes, n_train, n_test, shape, source
    rows: list[dict]

    def finished(self) -> dict[tuple, dict]:
        """Model identity -> its row, for the rows with a test accuracy (the first row wins a repeat)."""
        out: dict[tuple, dict] = {}
        for row in self.rows:
            if row.get("test_acc_mean") is not None:
                out.setdefault(identity(row), row)
        return out


def write_cross_dataset_report(out: Path, comparison_dirs: list[Path]) -> Path:
    """Write OUT/report.html, OUT/report.md and OUT/figures/ ranking the models over the comparison folders.

    Each folder is one dataset's `bakeoff compare --out` folder (leaderboard.csv and grid.json); return the HTML path.
    """
    out = Path(out)
    dirs = [Path(d) for d in comparison_dirs]
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise BakeoffError("the same comparison folder is named twice; give each dataset's folder once")
    if len(dirs) < 2:
        raise BakeoffError(f"a report across datasets needs at least 2 comparison folders, got {len(dirs)}")
    if out.resolve() in {d.resolve() for d in dirs}:
        raise BakeoffError(f"{out} is one of the comparison folders; write the report across datasets elsewhere, "
                           f"or its own report.html would be overwritten")
    boards = name_boards([read_board(d) for d in dirs])
    with plain_text():  # dataset and model names are drawn as written, never as mathtext
        doc = build_document(boards, out)
    with disk_errors(out):
        write_markdown(doc, out / "report.md", out / "figures")
        return write_html(doc, out / "report.html")


def read_board(comparison_dir: Path) -> DatasetBoard:
    """grid.json's dataset card and leaderboard.csv's rows of one comparison folder."""
    d = Path(comparison_dir)
    for name in (GRID_FILE, LEADERBOARD_FILE):
        if not (d / name).is_file():
            raise BakeoffError(f"{d}: no {name} here, so not a finished bakeoff comparison folder "
                               f"(`bakeoff compare --out {d}` makes one)")
    saved = files.read_json(d / GRID_FILE)
    if not (saved and isinstance(saved.get("dataset"), dict) and saved["dataset"].get("name")):
        raise BakeoffError(f"{d / GRID_FILE}: not a bakeoff {GRID_FILE} (unreadable, or no dataset name in it)")
    with open(d / LEADERBOARD_FILE, newline="") as f:
        rows = [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(f)]
    if rows and "model" not in rows[0]:
        raise BakeoffError(f"{d / LEADERBOARD_FILE}: no 'model' column, so not a bakeoff leaderboard")
    return DatasetBoard(dir=d, name=saved["dataset"]["name"], dataset=saved["dataset"], rows=rows)


def _value(text: str | None):
    """A leaderboard.csv field as Python: '' -> None, 'True' -> True, '3' -> 3, '0.001' -> 0.001, else the text."""
    if text is None or text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def name_boards(boards: list[DatasetBoard]) -> list[DatasetBoard]:
    """Add the folder where two folders hold the same dataset, so every column heading differs."""
    names = [b.name for b in boards]
    root = os.path.commonpath([b.dir.resolve() for b in boards])
    for b in boards:
        if names.count(b.name) > 1:
            b.name = f"{b.name} ({Path(os.path.relpath(b.dir.resolve(), root)).as_posix()})"
    return boards


def identity(row: dict) -> tuple:
    """The model a row is, apart from the dataset: ((axis, value), ...) over its coordinates and varying options."""
    return tuple((k, row.get(k) if row.get(k) != "" else None) for k in IDENTITY)


def model_labels(identities: list[tuple]) -> dict[tuple, str]:
    """'cnn4', or 'cnn4 · adam · lr 0.001' where those axes vary between the models: the shortest unique name."""
    varying = [k for k in IDENTITY if k != "model" and len({dict(i).get(k) for i in identities}) > 1]
    labels = {}
    for ident in identities:
        values = dict(ident)
        parts = [str(values.get("model"))]
        for k in varying:
            parts.append(_axis_text(k, values.get(k)))
        labels[ident] = " · ".join(parts)
    return labels


def _axis_text(key: str, value) -> str:
    if key == "augment":
        return "aug" if value else "no aug"  # 'on'/'off' alone would not say what
    if key == "optimizer":
        return str(value)
    try:
        return f"{key.replace('_', ' ')} {fmt(key, value)}"
    except (TypeError, ValueError):  # a column newer than this file's formats
        return f"{key.replace('_', ' ')} {value}"


def common_models(boards: list[DatasetBoard]) -> tuple[list[tuple], dict[tuple, list[str]]]:
    """The models finished on every dataset (first-seen order), and each other model's missing datasets."""
    finished = [b.finished() for b in boards]
    seen: list[tuple] = []
    for f in finished:
        seen += [i for i in f if i not in seen]
    common = [i for i in seen if all(i in f for f in finished)]
    missing = {i: [b.name for b, f in zip(boards, finished) if i not in f] for i in seen if i not in common}
    return common, missing


def build_document(boards: list[DatasetBoard], out: Path) -> Document:
    """Summary, average ranks, Friedman, Nemenyi with the CD diagram, then each dataset's leaderboard."""
    common, missing = common_models(boards)
    labels = model_labels(list(dict.fromkeys(identity(r) for b in boards for r in b.rows)))  # one name everywhere
    test = None
    if common:
        accuracy = np.array([[b.finished()[i]["test_acc_mean"] for i in common] for b in boards])  # (N, k)
        test = rank_models(accuracy, [labels[i] for i in common], [b.name for b in boards])
    sections = [summary(boards, test, missing, labels, out)]
    if test is not None:
        sections += [rank_table(test, accuracy), friedman_section(test)]
        if test.nemenyi is not None:
            sections.append(nemenyi_section(test))
    sections += dataset_leaderboards(boards, common, labels, test, out)
    names = ", ".join(b.name for b in boards)
    subtitle = (f"{len(boards)} comparison folders ({', '.join(b.dir.name + '/' for b in boards)}) · report written "
                f"{time.strftime('%Y-%m-%d %H:%M')}")
    return Document(f"bakeoff across datasets: {names}", subtitle, sections)


def summary(boards: list[DatasetBoard], test: RankTest | None, missing: dict[tuple, list[str]],
            labels: dict[tuple, str], out: Path) -> Section:
    """What was compared, the model with the best average rank, and every model left out of the ranking."""
    blocks: list = []
    if test is None:
        blocks.append(Text("No model finished on every dataset, so there is nothing to rank across them.", "warn"))
    else:
        order = np.argsort(test.average_ranks, kind="stable")
        best = order[0]
        blocks.append(Text(
            f"{len(test.models)} models ranked on {len(boards)} datasets by mean test accuracy (rank 1 = the best "
            f"on that dataset). Best average rank: {test.models[best]} ({test.average_ranks[best]:.2f})."))
        if test.not_tested:
            blocks.append(Text(f"Not tested: {test.not_tested}.", "warn"))
        elif test.significant:
            blocks.append(Text(f"The Friedman test finds the ranks differ by more than chance "
                               f"(p = {_p(test.p_value)})."))
        else:
            blocks.append(Text(f"The Friedman test finds no difference in rank beyond chance "
                               f"(p = {_p(test.p_value)}): no model can be called the best across these datasets."))
    for ident, where in missing.items():
        blocks.append(Text(f"{labels[ident]} has no finished run on {', '.join(where)}, so it is left out of the "
                           f"ranking (ranks compare only models present on every dataset).", "warn"))
    blocks.append(datasets_table(boards, out))
    blocks.append(Text("Ranks use each dataset's test accuracy (mean over seeds): this report describes how the "
                       "models compare and picks nothing; within each dataset the validation split alone chose.",
                       "note"))
    return Section("summary", "Summary", blocks)


def datasets_table(boards: list[DatasetBoard], out: Path) -> Table:
    """One row per comparison folder, linked to its own report.html."""
    rows = []
    for b in boards:
        d = b.dataset
        report = b.dir / "report.html"
        link = os.path.relpath(report, out) if report.is_file() else ""
        shape = " x ".join(str(s) for s in d.get("shape", []))
        href = Path(link).as_posix() if link else ""
        rows.append([cell(b.name), Cell(link or f"{b.dir}/ (no report.html)", href=href),
                     cell(shape), cell(f"{d['n_train']:,}" if "n_train" in d else "", d.get("n_train")),
                     cell(f"{d['n_test']:,}" if "n_test" in d else "", d.get("n_test")),
                     cell(len(b.finished()), len(b.finished()))])
    return Table(["dataset", "its own report", "image shape (C x H x W)", "training images", "test images",
                  "configurations finished"], rows, id="dataset-list",
                 caption="The datasets, one comparison folder each")


def rank_table(test: RankTest, accuracy: np.ndarray) -> Section:
    """Average rank per model, best first, with each dataset's test accuracy and rank."""
    avg = test.average_ranks
    rows = []
    for j in np.argsort(avg, kind="stable"):
        cells = [cell(test.models[j]), Cell(f"{avg[j]:.2f}", float(avg[j]), best=bool(avg[j] == avg.min()))]
        for n in range(len(test.datasets)):
            r = test.ranks[n, j]
            cells.append(Cell(f"{pct(accuracy[n, j])} ({_rank(r)})", float(accuracy[n, j]), best=bool(r == 1)))
        rows.append(cells)
    columns = ["model", "average rank"] + [f"{name}: test acc % (rank)" for name in test.datasets]
    blocks = [Table(columns, rows, id="average-ranks", sortable=True,
                    caption="Average rank over the datasets (lower is better); each dataset's best is highlighted."),
              Text("Ties share the mean of the ranks they span (two models tied for first both rank 1.5).", "note")]
    return Section("ranks", "Average ranks", blocks)


def friedman_section(test: RankTest) -> Section:
    """The Friedman statistic and p, and what they mean in one sentence."""
    k, n = len(test.models), len(test.datasets)
    if test.not_tested:
        return Section("friedman", "Friedman test", [Text(f"Not run: {test.not_tested}.", "warn")])
    facts = [("models (k)", str(k)), ("datasets (N)", str(n)),
             ("Friedman chi-square", f"{test.statistic:.3f} ({k - 1} degrees of freedom)"), ("p", _p(test.p_value))]
    if test.significant:
        meaning = (f"p < {ALPHA}: ranks this uneven across {n} datasets would be unlikely if the models were equally "
                   f"good, so at least one pair differs; the Nemenyi test below says which.")
    else:
        meaning = (f"p ≥ {ALPHA}: ranks this uneven happen by chance often enough with {n} datasets, so no model can "
                   f"be called better across them; more datasets would make the test sharper.")
    blocks = [Table(["", ""], [[cell(a), cell(b)] for a, b in facts], id="friedman-test", caption="Friedman test"),
              Text(meaning),
              Text("Friedman ranks the models within each dataset, so every dataset weighs the same whatever its "
                   "accuracy scale; with few datasets its chi-square approximation is rough (Demšar 2006 suggests "
                   "N > 10 and k > 5). Computed by scipy.stats.friedmanchisquare, corrected for ties.", "note")]
    return Section("friedman", "Friedman test", blocks)


def nemenyi_section(test: RankTest) -> Section:
    """The Nemenyi p-value for every pair, and the critical-difference diagram."""
    order = list(np.argsort(test.average_ranks, kind="stable"))
    rows = []
    for i in order:
        cells = [cell(test.models[i])]
        for j in order:
            p = float(test.nemenyi[i, j])
            cells.append(Cell("" if i == j else _p(p), None if i == j else p, best=i != j and p < ALPHA))
        rows.append(cells)
    blocks = [Text(f"Each pair of models: the Nemenyi test's p that their average ranks differ this much by chance "
                   f"(p < {ALPHA} highlighted). It corrects for making all {len(order) * (len(order) - 1) // 2} "
                   f"comparisons at once.")]
    if not test.significant:
        blocks.append(Text(f"The Friedman test found no difference (p = {_p(test.p_value)}), so by the usual rule "
                           f"these pairwise p-values are shown but should not be read as differences.", "warn"))
    blocks.append(Table(["model"] + [test.models[j] for j in order], rows, id="nemenyi-p-values",
                        caption="Nemenyi p-values, models in order of average rank (scikit-posthocs)"))
    blocks.append(Figure("critical_difference",
                         cd_diagram(test.models, test.average_ranks, test.nemenyi, test.critical_difference),
                         f"Critical-difference diagram: average ranks over {len(test.datasets)} datasets (1 = best); "
                         f"a bar joins models the Nemenyi test cannot tell apart at {ALPHA}; CD = "
                         f"{test.critical_difference:.2f}"))
    blocks.append(Text(f"Critical difference CD = {test.critical_difference:.2f}: two average ranks further apart than "
                       f"this differ at {ALPHA} (the Nemenyi test drawn as a length).", "note"))
    return Section("nemenyi", "Which pairs differ (Nemenyi post-hoc)", blocks)


def dataset_leaderboards(boards: list[DatasetBoard], common: list[tuple], labels: dict[tuple, str],
                         test: RankTest | None, out: Path) -> list[Section]:
    """Each dataset's leaderboard as its own report shows it in short, ranked models marked with their rank."""
    sections = [Section("datasets", "Per-dataset leaderboards", [Text(
        "Each comparison's configurations in its own order (validation accuracy, as its report); 'rank here' is "
        "the test-accuracy rank used above, among the models present on every dataset.")])]
    for n, b in enumerate(boards):
        rows, finished = [], b.finished()
        for row in b.rows:
            ident = identity(row)
            j = common.index(ident) if ident in common and row is finished.get(ident) else None  # column in ranks
            test_acc = pct(row.get("test_acc_mean"))
            if test_acc and row.get("test_acc_std") is not None:
                test_acc += f" ± {pct(row['test_acc_std'])}"
            rank = test.ranks[n, j] if test is not None and j is not None else None
            rows.append([cell(labels[ident]), cell(row.get("n_seeds") or 0, row.get("n_seeds") or 0),
                         cell(pct(row.get("val_acc")), row.get("val_acc")),
                         cell(test_acc, row.get("test_acc_mean")),
                         Cell("" if rank is None else _rank(rank), None if rank is None else float(rank),
                              best=rank == 1),
                         cell(fmt("params", row.get("params")), row.get("params")),
                         cell(fmt("train_seconds", row.get("train_seconds")), row.get("train_seconds"))])
        report = b.dir / "report.html"
        where = (f"Full report: {Path(os.path.relpath(report, out)).as_posix()}." if report.is_file()
                 else f"{b.dir} has no report.html (bakeoff report {b.dir} writes it).")
        sections.append(Section(f"dataset-{slug(b.name)}", b.name, [
            Table(["model", "seeds", "val acc (%)", "test acc (%)", "rank here", "params", "train time (s)"], rows,
                  id=f"leaderboard-{slug(b.name)}", sortable=True), Text(where, "note")], level=3))
    return sections


def _rank(r: float) -> str:
    return f"{r:g}"


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"

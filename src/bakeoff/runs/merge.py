"""`bakeoff merge A B ... --out C`: several comparisons of the same data and split as one.

A scratch line-up run one day and a pretrained one the next, or two epoch counts, belong in one leaderboard
with one significance section. Merging copies the run folders into C (hard links where the file system
allows: nothing is duplicated and the sources stay as they were, since bakeoff replaces files rather than
writing into them), writes C/grid.json listing every run with its configuration, then the leaderboard and
the report. Runs trained on other data or another split would make the comparison meaningless and are
refused in one line.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from .. import files
from ..config import AXIS_TAGS, GRID_AXES, RunConfig
from ..config.values import short_repr
from ..errors import BakeoffError
from ..files import disk_errors
from ..report import build_report
from ..store import runfolder
from ..store.comparison import collect
from ..store.leaderboard import write_leaderboard
from ..store.record import comparison_record
from ..store.runfolder import GRID_FILE

# What must be equal for two runs to be compared on the same footing: the images and how they were split.
SAME_DATA = ("name", "classes", "n_train", "n_test", "shape")
SAME_SPLIT = ("dataset", "val_fraction", "train_subset", "folds", "img_size")


def merge_comparisons(sources: list[Path], out: Path, say=print) -> Path:
    """Merge comparison folders into `out`; returns the report's path."""
    if len(sources) < 2:
        raise BakeoffError("merge needs at least two comparison folders")
    resolved = {s.resolve() for s in sources}
    if len(resolved) < len(sources):
        raise BakeoffError("a comparison folder is named twice")
    if out.resolve() in resolved:
        raise BakeoffError(f"--out {out} is one of the folders being merged; choose a new folder")
    if (out / GRID_FILE).exists():
        raise BakeoffError(f"{out} already holds a comparison; merge into a new folder")
    comparisons = [collect(s) for s in sources]
    _check_same_data(comparisons)
    runs = _renamed([(cmp, run, RunConfig.from_dict(run.config)) for cmp in comparisons for run in cmp.runs])
    first = comparisons[0]
    with disk_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        for run_id, (cmp, run, cfg) in runs.items():
            if run.dir.is_dir():
                _link_tree(run.dir, out / run_id)
                if (out / run_id / runfolder.CONFIG_FILE).is_file():  # replaced, not written into: the link breaks
                    files.write_json(out / run_id / runfolder.CONFIG_FILE, cfg.to_dict())
        grid_json = {"grid": _union([c.grid for c in comparisons]), "dataset": first.dataset,
                     "versions": first.versions, "record": comparison_record(),
                     "merged_from": [str(c.out) for c in comparisons],
                     "runs": [cfg.to_dict() for _, _, cfg in runs.values()]}
        files.write_json(out / GRID_FILE, grid_json)
        merged = collect(out)
        write_leaderboard(merged.rows, out)
    say(f"merged {len(runs)} runs from {len(comparisons)} comparisons into {out}")

    return build_report(out)


def _renamed(runs: list[tuple]) -> dict[str, tuple]:
    """The merged runs by their new run ids: options that differ across the comparisons (each of which held
    one value, so its ids did not name it) now appear in the ids; the same run twice is kept once."""
    varying = [a for a in AXIS_TAGS if len({repr(getattr(cfg, a)) for _, _, cfg in runs}) > 1]
    out: dict[str, tuple] = {}
    for cmp, run, cfg in runs:
        cfg = replace(cfg, name_axes=varying)
        earlier = out.get(cfg.run_id)
        if earlier is None:
            out[cfg.run_id] = (cmp, run, cfg)
        elif earlier[2].to_dict() != cfg.to_dict():
            raise BakeoffError(f"{run.run_id} in {earlier[0].out} and in {cmp.out} differ only in settings that "
                               f"run ids do not show; merge one of them")
    return out


def _check_same_data(comparisons) -> None:
    first = comparisons[0]
    for cmp in comparisons[1:]:
        for key in SAME_DATA:
            if cmp.dataset.get(key) != first.dataset.get(key):
                raise BakeoffError(f"{cmp.out} and {first.out} were not made on the same data ({key}: "
                                   f"{short_repr(cmp.dataset.get(key))} vs {short_repr(first.dataset.get(key))}); "
                                   f"only comparisons of the same dataset and split can be merged")
    split = None
    for cmp in comparisons:
        for run in cmp.runs:
            this = tuple(_normal(run.config.get(k)) for k in SAME_SPLIT)
            if split is None:
                split, where = this, cmp.out
            elif this != split:
                diff = [k for k, a, b in zip(SAME_SPLIT, this, split) if a != b]
                raise BakeoffError(f"{cmp.out} has runs split differently from {where} ({', '.join(diff)}); "
                                   f"only comparisons of the same dataset and split can be merged")


def _normal(value):
    return None if value in (None, "") else value


def _union(grids: list[dict]) -> dict:
    """One grid dict for the report: each axis the union of the values seen, in order of appearance."""
    out: dict = {}
    for grid in grids:
        for key, value in grid.items():
            values = value if isinstance(value, list) else [value]
            seen = out.setdefault(key, [])
            seen += [v for v in values if v not in seen]
    return {k: v if k in GRID_AXES or len(v) > 1 else v[0] for k, v in out.items()}


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a run folder, hard-linking each file where possible (lock files stay behind)."""
    def link_or_copy(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link_or_copy, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".lock", "*.tmp"))

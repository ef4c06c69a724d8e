"""Flags -> options -> grids (runs/plan.py): `compare`'s grid and `train`'s one-run grid, from the flags given."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from ..config import GRID_AXES, GridConfig, load_grid_file, RunConfig, SCORING_OPTIONS
from ..runs.plan import default_out, grid_from_options, with_photo_class_map

# Flag names shared by `compare` and `train` that map one-to-one onto RunConfig fields.
RUN_FIELDS = [f.name for f in fields(RunConfig)]


def grid_from_args(args) -> tuple[GridConfig, Path]:
    """`compare`: defaults < recipe (--recipe) < grid YAML (-c) < flags given on the command line."""
    return grid_from_options(compare_options(args))


def compare_options(args) -> dict:
    """`compare`'s options as the user gave them: the grid file (-c) overridden by the flags given."""
    options = load_grid_file(args.config) if getattr(args, "config", None) else {}
    options.update(_given(args, list(GRID_AXES) + RUN_FIELDS + list(SCORING_OPTIONS) + ["out"]))
    return options


def one_run_from_args(args) -> tuple[GridConfig, Path]:
    """`train`: a grid of one run, whose single-item axes are --model, --optimizer, --lr, --seed, --augment."""
    options = with_photo_class_map(_given(args, RUN_FIELDS + list(SCORING_OPTIONS) + ["out"]))
    for axis, single in GRID_AXES.items():
        if single in options:
            options[axis] = [options.pop(single)]
    return grid_from_options(options, default_models=[RunConfig.model])


def _given(args, names) -> dict:
    """The flags the user actually gave (argparse defaults are None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}




__all__ = ["RUN_FIELDS", "compare_options", "default_out", "grid_from_args", "one_run_from_args"]

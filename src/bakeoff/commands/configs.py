"""Flags -> configs: `compare`'s grid and `train`'s one-run grid, from defaults, recipe, grid file and flags."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from ..config import GRID_AXES, TRAIT_OPTIONS, GridConfig, RunConfig, load_grid_file
from ..errors import ConfigError
from ..recipes import recipe_options
from ..runfolder import file_safe

# Flag names shared by `compare` and `train` that map one-to-one onto RunConfig fields.
RUN_FIELDS = [f.name for f in fields(RunConfig)]


def grid_from_args(args) -> tuple[GridConfig, Path]:
    """`compare`: defaults < recipe (--recipe) < grid YAML (-c) < flags given on the command line."""
    return _grid(compare_options(args))


def grids_per_dataset(args) -> tuple[list[tuple[GridConfig, Path]], Path] | None:
    """`compare --dataset a,b,c` (or a list in the grid file): one grid per dataset, each in OUT/<dataset>/, and
    OUT for the report across them; None for a single dataset."""
    return _per_dataset(compare_options(args))


def grids_from_options(options: dict) -> tuple[list[tuple[GridConfig, Path]], Path | None]:
    """`compare`'s grids from flat options (a grid file's keys overridden by the flags or the Python API's
    arguments): one grid and its folder per dataset, and the folder for the report across datasets (None
    for one dataset)."""
    return _per_dataset(options) or ([_grid(options)], None)


def _per_dataset(options: dict) -> tuple[list[tuple[GridConfig, Path]], Path] | None:
    datasets = dataset_list(options.get("dataset", RunConfig.dataset))
    if len(datasets) == 1:
        return None
    if len(set(datasets)) < len(datasets):
        raise ConfigError("--dataset names a dataset twice")
    out = Path(options["out"]) if options.get("out") else Path("runs") / "+".join(file_safe(d) for d in datasets)
    grids = [_grid({**options, "dataset": d, "out": out / file_safe(d)}) for d in datasets]
    return grids, out


def dataset_list(value) -> list[str]:
    """'mnist,fashion-mnist' or a YAML list -> names; a folder:/arrays: path is one dataset even with commas."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith(("folder:", "arrays:")):
        return [text]
    return [t.strip() for t in text.split(",") if t.strip()] or [text]


def compare_options(args) -> dict:
    """`compare`'s options as the user gave them: the grid file (-c) overridden by the flags given."""
    options = load_grid_file(args.config) if getattr(args, "config", None) else {}
    options.update(_given(args, list(GRID_AXES) + RUN_FIELDS + ["out"]))
    return options


def one_run_from_args(args) -> tuple[GridConfig, Path]:
    """`train`: a grid of one run, whose single-item axes are --model, --optimizer, --lr, --seed, --augment."""
    from ..api import with_photo_class_map

    options = with_photo_class_map(_given(args, RUN_FIELDS + ["out"]), getattr(args, "class_map", None))
    for axis, single in GRID_AXES.items():
        if single in options:
            options[axis] = [options.pop(single)]
    return _grid(options, default_models=[RunConfig.model])


def _grid(options: dict, default_models: list[str] | None = None) -> tuple[GridConfig, Path]:
    """The grid and its output folder from flat options (grid axes as lists, RunConfig fields, out)."""
    preset = _recipe_defaults(options)
    given = {str(k).replace("-", "_") for k in options}
    options = {**preset, **options}
    if default_models and "models" not in options:
        options["models"] = default_models  # one run's default model, not GridConfig's five
    if options.get("weights") is not None and options.get("pretrained", "none") == "none":
        options["pretrained"] = "imagenet"  # a local ImageNet weight file stands in for the download
    out = options.pop("out", None)
    grid = GridConfig.from_options(options)
    from ..models import has_trait  # late: the model zoo imports torch

    for key, trait in TRAIT_OPTIONS.items():  # a recipe's choice for models none of which the line-up has
        if key in preset and key not in given and not any(has_trait(m, trait) for m in grid.models):
            grid.base.pop(key, None)
    dataset = grid.base.get("dataset", RunConfig.dataset)
    return grid, Path(out) if out else default_out(dataset)


def _recipe_defaults(options: dict) -> dict:
    """What the chosen recipe sets for the chosen dataset; a single --lr/--seed etc. becomes a grid axis."""
    recipe, dataset = options.get("recipe", RunConfig.recipe), options.get("dataset", RunConfig.dataset)
    preset = recipe_options(str(recipe), str(dataset))
    for single, axis in (("optimizer", "optimizers"), ("lr", "lrs"), ("augment", "augment")):
        if single in preset:
            value = preset.pop(single)
            preset[axis] = [value]
    return preset


def _given(args, names) -> dict:
    """The flags the user actually gave (argparse defaults are None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def default_out(dataset: str) -> Path:
    """runs/<dataset>, with `folder:PATH` and `arrays:PATH` made into a safe folder name."""
    return Path("runs") / file_safe(dataset)

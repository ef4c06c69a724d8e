"""Flat options -> grids: what `bakeoff compare`, `bakeoff train` and `bakeoff.compare(...)` all build their runs
from. Defaults < recipe (--recipe) < grid file (-c) < the options given; one grid and its folder per dataset.
The command line (commands/configs.py) and the Python API (api.py) both come here, so `--epochs 5,10` and
`epochs=[5, 10]` are one grid and a bad value is the same one-line error.
"""
from __future__ import annotations

from pathlib import Path

from ..config import GridConfig, RunConfig, TRAIT_OPTIONS
from ..config.recipes import recipe_options
from ..errors import ConfigError
from ..files import file_safe
from ..models import has_trait

# A folder of photos loads at up to 64 px (or --img-size): the default line-up without simple-cnn, whose dense layer
# grows with the image (286 M weights at 48 px, about 945 M at 64: 15 GB to train); it runs where it is asked for.
FOLDER_MODELS = [m for m in GridConfig().models if m != "simple-cnn"]


def grids_from_options(options: dict) -> tuple[list[tuple[GridConfig, Path]], Path | None]:
    """`compare`'s grids from flat options (a grid file's keys overridden by the flags or the Python API's
    arguments): one grid and its folder per dataset, and the folder for the report across datasets (None
    for one dataset)."""
    return grids_per_dataset(options) or ([grid_from_options(options)], None)


def grids_per_dataset(options: dict) -> tuple[list[tuple[GridConfig, Path]], Path] | None:
    datasets = dataset_list(options.get("dataset", RunConfig.dataset))
    if len(datasets) == 1:
        return None
    if len(set(datasets)) < len(datasets):
        raise ConfigError("--dataset names a dataset twice")
    out = Path(options["out"]) if options.get("out") else Path("runs") / "+".join(file_safe(d) for d in datasets)
    grids = [grid_from_options({**options, "dataset": d, "out": out / file_safe(d)}) for d in datasets]
    return grids, out


def dataset_list(value) -> list[str]:
    """'mnist,fashion-mnist' or a YAML list -> names; a folder:/arrays: path is one dataset even with commas."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith(("folder:", "arrays:")):
        return [text]
    return [t.strip() for t in text.split(",") if t.strip()] or [text]


def grid_from_options(options: dict, default_models: list[str] | None = None) -> tuple[GridConfig, Path]:
    """The grid and its output folder from flat options (grid axes as lists, RunConfig fields, out)."""
    preset = _recipe_defaults(options)
    given = {str(k).replace("-", "_") for k in options}
    options = {**preset, **options}
    if default_models and "models" not in options:
        options["models"] = default_models  # one run's default model, not GridConfig's five
    elif "models" not in options and str(options.get("dataset", "")).startswith("folder:"):
        options["models"] = FOLDER_MODELS
    if options.get("weights") is not None and options.get("pretrained", "none") == "none":
        options["pretrained"] = "imagenet"  # a local ImageNet weight file stands in for the download
    out = options.pop("out", None)
    grid = GridConfig.from_options(options)
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


def default_out(dataset: str) -> Path:
    """runs/<dataset>, with `folder:PATH` and `arrays:PATH` made into a safe folder name."""
    return Path("runs") / file_safe(dataset)


def with_photo_class_map(options: dict) -> dict:
    """--class-map also maps --train-photos' folder names; kept in the runs' configs only where they train on
    photos, so adding --real-photos --class-map to a rerun retrains nothing."""
    class_map = options.get("class_map")
    if class_map is None or not options.get("train_photos"):
        return options
    return {**options, "photo_class_map": class_map}

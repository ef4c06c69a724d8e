"""The Python API: `bakeoff.compare(...)` trains and compares as `bakeoff compare` does; `bakeoff.load(OUT)`
reopens a finished comparison. Both `compare`s, this one and the command line's, run runs/comparison.py.

Options are read by the same code as the command line's flags (runs/plan.py, GridConfig.from_options),
so `epochs=[5, 10]` and `--epochs 5,10`, `models=["mlp", "cnn4"]` and `--models mlp,cnn4` are one grid, and a
bad value raises the BakeoffError whose message the command line prints.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .config import load_grid_file
from .errors import ConfigError

if TYPE_CHECKING:
    from .results import ComparisonResult

DEFAULT_DATA_OUT = Path("runs") / "data"  # compare(data=...) without out=


def compare(dataset: str | list[str] | None = None, models: str | list[str] | None = None, *,
            data=None, classes: list[str] | None = None, out: str | Path | None = None,
            config: str | Path | None = None, optimizers=None, lrs=None, seeds=None, augment=None, epochs=None,
            batch_size=None, quiet: bool = False, robustness: bool = True, track: str | list[str] | None = None,
            mlflow_uri: str | None = None, executor: str = "local", ray_address: str | None = None,
            cpus_per_run: int | None = None, gpus_per_run: float = 0, real_photos: str | None = None,
            class_map: str | None = None, **options) -> ComparisonResult:
    """Train every run of the grid not already finished in `out`, write the leaderboard and the report,
    and return the comparison.

    Takes the options of `bakeoff compare` under their Python names; each grid axis takes a list (or comma
    text): `models`, `optimizers`, `lrs`, `seeds`, `augment`, and any option that may be swept, e.g.
    `epochs=[5, 10]`. The other options go in `**options`: `img_size`, `train_subset`, `val_fraction`,
    `data_dir`, `weight_decay`, `label_smoothing`, `momentum`, `schedule`, `recipe`, `photo_augment`, `tta`,
    `progressive_resize`, `whiten_stem`, `patience`, `device`, `precision`, `pretrained`, `weights`, `freeze`,
    `finetune_blocks`, `backbone_lr_scale`, `denoise`, `latent_dim`, `time_budget`, `folds`, `tune`,
    `train_photos` (a folder of labelled real photos, mapped by `class_map`, partly trained on:
    data/photos/training.py). `config` is a grid YAML file; arguments given here win over it. Finished runs in `out`
    are kept (a rerun trains only what is new).

    Data: `dataset` names a built-in dataset (`bakeoff datasets`), `arrays:PATH.npz` or `folder:PATH`, or
    several as a list (one comparison each, and a report across them); or `data=(x_train, y_train, x_test,
    y_test)` with `classes=[...]`: NumPy arrays or torch tensors, images (N, H, W), (N, H, W, C) or
    (N, C, H, W), uint8 or floats in 0..1, labels 0..K-1 (saved as OUT/data-<hash>.npz so the comparison
    can be reopened; default out: runs/data).

    `quiet`: no progress lines. `robustness=False`: skip accuracy under corruptions (quicker).
    `track`: 'mlflow', 'tensorboard' or both as a list; `mlflow_uri` (implies mlflow) defaults to
    sqlite:///OUT/mlflow.db. `executor='ray'` trains the runs as Ray tasks.
    Raises a BakeoffError subclass, with the command line's one-line message, for any bad argument;
    an interrupt (Jupyter's stop button) ends after the current step, keeping finished runs.
    """
    # Late here and in load(): torch loads with these, and `import bakeoff` stays light.
    from .data.memory import save_in_memory_dataset
    from .results import ComparisonResult
    from .runs.comparison import run_comparison, stop_after_step

    given = {"dataset": dataset, "models": models, "optimizers": optimizers, "lrs": lrs, "seeds": seeds,
             "augment": augment, "epochs": epochs, "batch_size": batch_size, "out": out, "real_photos": real_photos,
             "class_map": class_map, **options}
    flat = _load_config(config)
    flat.update({k: v for k, v in given.items() if v is not None})
    if data is not None:
        if dataset is not None:
            raise ConfigError("give either dataset= or data=, not both")
        folder = Path(flat.get("out") or DEFAULT_DATA_OUT)
        flat.update(dataset=f"arrays:{save_in_memory_dataset(data, classes, folder)}", out=str(folder))
    elif classes is not None:
        raise ConfigError("classes= names the classes of data=(x_train, y_train, x_test, y_test); "
                          "a dataset given by name brings its own")
    with stop_after_step():
        return ComparisonResult(run_comparison(
            flat, quiet=quiet, robustness=robustness, track=track, mlflow_uri=mlflow_uri, executor=executor,
            ray_address=ray_address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run))


def load(path: str | Path) -> ComparisonResult:
    """Reopen a finished comparison folder (what `compare` wrote to `out`); nothing is trained."""
    from .results import ComparisonResult  # late: see compare()

    return ComparisonResult(path)


def _load_config(config: str | Path | None) -> dict:
    return load_grid_file(config) if config is not None else {}

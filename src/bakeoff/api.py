"""The Python API: `bakeoff.compare(...)` trains and compares as `bakeoff compare` does; `bakeoff.load(OUT)`
reopens a finished comparison. The command line's `compare` is a thin layer over `run_comparison` here.

Options are read by the same code as the command line's flags (commands/configs.py, GridConfig.from_options),
so `epochs=[5, 10]` and `--epochs 5,10`, `models=["mlp", "cnn4"]` and `--models mlp,cnn4` are one grid, and a
bad value raises the BakeoffError whose message the command line prints.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Callable

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
    photo_training.py). `config` is a grid YAML file; arguments given here win over it. Finished runs in `out`
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
    from .errors import ConfigError

    given = {"dataset": dataset, "models": models, "optimizers": optimizers, "lrs": lrs, "seeds": seeds,
             "augment": augment, "epochs": epochs, "batch_size": batch_size, "out": out, **options}
    flat = _load_config(config)
    flat.update({k: v for k, v in given.items() if v is not None})
    if data is not None:
        if dataset is not None:
            raise ConfigError("give either dataset= or data=, not both")
        from .data.memory import save_in_memory_dataset

        folder = Path(flat.get("out") or DEFAULT_DATA_OUT)
        flat.update(dataset=f"arrays:{save_in_memory_dataset(data, classes, folder)}", out=str(folder))
    elif classes is not None:
        raise ConfigError("classes= names the classes of data=(x_train, y_train, x_test, y_test); "
                          "a dataset given by name brings its own")
    with _stop_after_step():
        return run_comparison(flat, quiet=quiet, robustness=robustness, track=track, mlflow_uri=mlflow_uri,
                              executor=executor, ray_address=ray_address, cpus_per_run=cpus_per_run,
                              gpus_per_run=gpus_per_run, real_photos=real_photos, class_map=class_map)


def load(path: str | Path) -> ComparisonResult:
    """Reopen a finished comparison folder (what `compare` wrote to `out`); nothing is trained."""
    return ComparisonResult(path)


def run_comparison(options: dict, *, quiet: bool = False, robustness: bool = True, track=None,
                   mlflow_uri: str | None = None, executor: str = "local", ray_address: str | None = None,
                   cpus_per_run: int | None = None, gpus_per_run: float = 0, real_photos: str | None = None,
                   class_map: str | None = None, after_grid: Callable | None = None,
                   say: Callable[[str], None] = print) -> ComparisonResult:
    """`compare` from flat options (a grid file's keys and the arguments given, as the user wrote them).

    One grid per dataset; `after_grid(grid, rows)` is called as each finishes (the command line prints
    its leaderboard there). Raises `Interrupted` on SIGINT/SIGTERM inside `interrupt.graceful_signals()`.
    """
    from .commands.configs import grids_from_options
    from .compare import run_grid
    from .executors import make_executor
    from .tracking import track_comparison, tracking_targets

    grids, across = grids_from_options(with_photo_class_map(options, class_map))
    for grid, _ in grids:
        grid.runs()  # a bad option fails here, before a cluster is started or a dataset is loaded
    targets = tracking_targets(track, mlflow_uri)  # and a tracker that is not installed
    runner = make_executor(executor, ray_address, cpus_per_run, gpus_per_run)
    for grid, grid_out in grids:
        rows = run_grid(grid, grid_out, quiet=quiet, executor=runner, real_photos=real_photos,
                        class_map=class_map, robustness=robustness)
        track_comparison(grid_out, targets, mlflow_uri, (lambda _: None) if quiet else say)  # --quiet: the table only
        if after_grid is not None:
            after_grid(grid, rows)
    if across is None:
        return ComparisonResult(grids[0][1])
    from .report.across_datasets import build_cross_dataset_report

    path = build_cross_dataset_report(across, [grid_out for _, grid_out in grids])
    say(f"across {len(grids)} datasets: {path}")
    return ComparisonResult(across)


def with_photo_class_map(options: dict, class_map: str | None) -> dict:
    """--class-map also maps --train-photos' folder names; kept in the runs' configs only where they train on
    photos, so adding --real-photos --class-map to a rerun retrains nothing."""
    if class_map is None or not options.get("train_photos"):
        return options
    return {**options, "photo_class_map": class_map}


def _load_config(config: str | Path | None) -> dict:
    from .config import load_grid_file

    return load_grid_file(config) if config is not None else {}


@contextlib.contextmanager
def _stop_after_step():
    """Ctrl-C (Jupyter's stop button) ends training after the current step, the run saved for resuming,
    as on the command line; then it is a KeyboardInterrupt. Signals can only be caught in the main thread."""
    from .engine.interrupt import Interrupted, graceful_signals

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        with graceful_signals():
            yield
    except Interrupted as e:
        raise KeyboardInterrupt(f"{e}; finished runs are kept and the same call resumes the rest") from None

"""A grid of runs: the named axes (models, optimizers, lrs, augment, seeds) x any other swept option, read from
flat options as a user writes them (flags, a grid file, the Python API). Pure: expanding a grid into runs
takes, from the caller, how each model adapts the options it is given (models/options.py: `grid_runs`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, fields
from typing import Callable

from ..errors import ConfigError, unknown_choice
from .axes import AXIS_TAGS, GRID_AXES, NOT_OPTIONS, OPTION_AXES, SCORING_OPTIONS
from .run import _check, field_kind, RunConfig
from .values import read_time_budget, read_value

MAX_RUNS = 10_000  # a grid file that expands to more is a mistake, not a plan


@dataclass
class GridConfig:
    """A Cartesian grid of runs: models x optimizers x lrs x augment x seeds x folds x any other swept option."""

    models: list[str] = field(default_factory=lambda: ["mlp", "simple-cnn", "cnn4", "basic-cnn", "resnet20"])
    optimizers: list[str] = field(default_factory=lambda: ["adam"])
    lrs: list[float] = field(default_factory=lambda: [1e-3])
    augment: list[bool] = field(default_factory=lambda: [False])
    seeds: list[int] = field(default_factory=lambda: [0])
    base: dict = field(default_factory=dict)  # shared RunConfig fields (dataset, epochs, ...)
    axes: dict = field(default_factory=dict)  # other swept options: {"epochs": [5, 10], "pretrained": [...]}
    # What the finished runs are scored on, not trained with, so not in any run's config (a rerun that adds it
    # retrains nothing): a folder of class folders of real photos (analysis/real_photos.py), and 'FOLDER=CLASS,...'
    # for folder names that match no class (it maps --train-photos' folders too: runs/plan.py)
    real_photos: str | None = None
    class_map: str | None = None

    @classmethod
    def from_options(cls, options: dict) -> "GridConfig":
        """A grid from flat options as a user writes them: the named axes (models, lrs, ...) as lists or comma
        text, any other option one value or a list of values (a swept axis), each value read as its option
        means (config/values.py). Unknown options and lists for options that are not axes get one clear line."""
        named, axes, base, scoring = {}, {}, {}, {}
        for key, value in options.items():
            name = str(key).replace("-", "_")
            if name in SCORING_OPTIONS:
                if value is not None and (not isinstance(value, str) or not value.strip()):
                    raise ConfigError(f"{name.replace('_', '-')} takes one folder or map as text, got {value!r:.60}")
                scoring[name] = value
            elif name in GRID_AXES:
                named[name] = [_read_option(GRID_AXES[name], v) for v in _as_items(name, value)]
            elif name in NOT_OPTIONS or name not in RUN_FIELD_NAMES:
                raise unknown_choice("option", str(key), sorted(set(GRID_AXES) | set(RUN_FIELD_NAMES) - set(
                    GRID_AXES.values()) - set(NOT_OPTIONS)))
            elif name in GRID_AXES.values():
                raise ConfigError(f"{name} is given as a list in a grid: {_plural(name)}")
            elif _is_list(name, value):
                if name not in OPTION_AXES:
                    raise ConfigError(f"{name.replace('_', '-')} takes one value for the whole comparison; "
                                      f"options that may take several: {', '.join(OPTION_AXES)}")
                values = [_read_option(name, v) for v in _as_items(name, value)]
                if len(values) > 1:
                    axes[name] = values
                else:
                    base[name] = values[0]
            else:
                base[name] = _read_option(name, value)
        return cls(**named, base=base, axes=axes, **scoring)

    def runs(self, options_for: Callable[[str, dict], dict], check: Callable[[RunConfig], None]) -> list[RunConfig]:
        """Every run of the grid, validated, in a stable order (model-major); duplicates refused in one line.

        `options_for(model, options)`: a grid point's options as that model takes them; `check(cfg)`: what
        the zoo says of each run. models/options.py's `grid_runs(grid)` passes both.
        """
        lists = {"models": self.models, "optimizers": self.optimizers, "lrs": self.lrs, "augment": self.augment,
                 "seeds": self.seeds, **self.axes}
        for name, values in lists.items():
            _check_distinct(name, values)
        folds = self.base.get("folds")
        if self.base.get("tune"):  # the search sets these per model; a list of them would be overwritten
            swept = [a for a in ("lrs", "weight_decay") if len(lists.get(a, [])) > 1]
            _check(not swept, f"--tune searches the learning rate and weight decay; give one value of "
                              f"{' and '.join(swept)} (it is the first trial)")
        names = list(self.axes)
        size = math.prod(len(v) for v in lists.values()) * (folds or 1)
        _check(size <= MAX_RUNS, f"the grid expands to {size:,} runs; at most {MAX_RUNS:,} are allowed")
        varying = [a for a in names if len(self.axes[a]) > 1]
        out, seen = [], {}
        for model, opt, lr, aug, seed, *values in itertools.product(
                self.models, self.optimizers, self.lrs, self.augment, self.seeds, *(self.axes[a] for a in names)):
            options = options_for(model, {**self.base, **dict(zip(names, values))})
            for fold in range(folds or 1):
                named = [a for a in varying if a in options and a in AXIS_TAGS]  # swept, and used by this model
                cfg = RunConfig(**options, model=model, optimizer=opt, lr=float(lr), augment=bool(aug),
                                seed=int(seed), fold=fold, name_axes=named)
                check(cfg)
                earlier = seen.get(cfg.run_id)
                if earlier is None:
                    seen[cfg.run_id] = cfg
                    out.append(cfg)
                elif earlier.to_dict() != cfg.to_dict():
                    diff = [k for k, v in cfg.to_dict().items() if earlier.to_dict()[k] != v]
                    raise ConfigError(f"two grid points would share the run {cfg.run_id}: they differ only in "
                                      f"{', '.join(diff)}, which {model} does not use; drop that value")
                # identical points (a scratch model under a swept --freeze) are trained once
        return out

    def to_dict(self) -> dict:
        """As grid.json keeps it: the named axes, the shared options, each other axis as its list, and what the runs
        are scored on where that was given."""
        scoring = {k: getattr(self, k) for k in SCORING_OPTIONS if getattr(self, k) is not None}
        return {"models": self.models, "optimizers": self.optimizers, "lrs": self.lrs, "augment": self.augment,
                "seeds": self.seeds, **self.base, **self.axes, **scoring}

    def swept(self) -> list[str]:
        """Names of the axes with more than one value (named axes by their plural)."""
        named = [a for a in GRID_AXES if len(getattr(self, a)) > 1]
        return named + [a for a, v in self.axes.items() if len(v) > 1]


RUN_FIELD_NAMES = [f.name for f in fields(RunConfig)]


def _read_option(name: str, value):
    """One value of a RunConfig option, read as the option means it."""
    if name == "time_budget":
        return read_time_budget(value)
    kind, optional = field_kind(next(f for f in fields(RunConfig) if f.name == name))
    return read_value(name, kind, value, optional)


def _is_list(name: str, value) -> bool:
    """A YAML list, or comma text for an option that is not a file or folder name."""
    if isinstance(value, (list, tuple)):
        return True
    return isinstance(value, str) and "," in value and name not in ("weights", "data_dir", "dataset",
                                                                  "train_photos", "photo_class_map")


def _as_items(name: str, value) -> list:
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, str) and "," in value:
        items = [t.strip() for t in value.split(",")]
    else:
        items = [value]
    if not items or any(isinstance(v, str) and not v.strip() for v in items):
        raise ConfigError(f"{name.replace('_', '-')}: an empty list or an empty item in {value!r:.60}")
    return items


def _check_distinct(name: str, values: list) -> None:
    if not values:
        raise ConfigError(f"{name}: the list is empty")
    for i, v in enumerate(values):
        if v in values[:i]:
            raise ConfigError(f"{name} lists {v!r} twice; every grid point must be a different run")


def _plural(name: str) -> str:
    return {v: k for k, v in GRID_AXES.items()}[name]



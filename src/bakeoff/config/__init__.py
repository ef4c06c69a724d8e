"""What a run and a grid are made of: types, defaults with their reasons, ranges, grid files, recipes. Pure:
importing it loads no model, no dataset and no torch (the zoo's own checks are models/options.py)."""
from .axes import (
                   AUTOENCODER_OPTIONS,
                   AXIS_TAGS,
                   GRID_AXES,
                   NOT_OPTIONS,
                   OPTION_AXES,
                   SCORING_OPTIONS,
                   TRAIT_OPTIONS,
                   TRANSFER_OPTIONS,
)
from .grid import GridConfig, MAX_RUNS, RUN_FIELD_NAMES
from .gridfile import load_grid_file, parse_list
from .run import (
                   DEVICES,
                   MAX_BATCH,
                   MAX_EPOCHS,
                   MAX_SEED,
                   OPTIMIZERS,
                   PRECISIONS,
                   SCHEDULES,
                   RunConfig,
                   field_kind,
                   pretrained_label,
)

__all__ = ["AUTOENCODER_OPTIONS", "AXIS_TAGS", "DEVICES", "GRID_AXES", "GridConfig", "MAX_BATCH", "MAX_EPOCHS",
           "MAX_RUNS", "MAX_SEED", "NOT_OPTIONS", "OPTIMIZERS", "OPTION_AXES", "PRECISIONS", "RUN_FIELD_NAMES",
           "RunConfig", "SCHEDULES", "SCORING_OPTIONS", "TRAIT_OPTIONS", "TRANSFER_OPTIONS", "field_kind",
           "load_grid_file", "parse_list", "pretrained_label"]

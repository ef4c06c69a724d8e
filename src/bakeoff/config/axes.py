"""Which options a grid may sweep, how each is tagged in run ids, and which apply only to some models."""
from __future__ import annotations

# Options about starting from pretrained weights: in a line-up that mixes models with and without ImageNet
# weights, `--pretrained imagenet` and these go to the models that have weights; the others train from scratch.
TRANSFER_OPTIONS = ("pretrained", "weights", "freeze", "finetune_blocks", "backbone_lr_scale")

# Grid keys that take lists under a name of their own; GridConfig.from_options reads them.
GRID_AXES = {"models": "model", "optimizers": "optimizer", "lrs": "lr", "seeds": "seed", "augment": "augment"}
# Every other option that may take a list in a grid (YAML list, or a comma list on the command line), and how it is
# tagged in run ids when it varies. Options that fix the data and its split (dataset, data_dir, val_fraction,
# train_subset, folds, img_size) are not axes: every run of one comparison sees the same images, so calibration,
# robustness and the image grids compare models on the same inputs. Nor is --recipe: it is a preset of these
# options, applied before the grid is built.
AXIS_TAGS = {"epochs": "ep", "batch_size": "bs", "schedule": "sched-", "weight_decay": "wd", "label_smoothing": "ls",
             "momentum": "mom", "nesterov": "nesterov-", "patience": "pat", "tta": "tta-",
             "progressive_resize": "pr", "whiten_stem": "whiten-",
             "backbone_lr_scale": "blr"}
OPTION_AXES = (*AXIS_TAGS, "pretrained", "freeze", "finetune_blocks", "denoise", "latent_dim",
               "photo_augment")  # the last ones already show in run ids when set (_transfer_suffix, aug+photo)
AUTOENCODER_OPTIONS = ("denoise", "latent_dim")  # no effect on other models, so not swept for them
# Options that only models with a trait (models/registry.py) can take: in a line-up they apply to the models that
# take them and are left out for the others; a line-up in which none does is refused in one line (a recipe's
# choice of one is then dropped instead: runs/plan.py).
TRAIT_OPTIONS = {"progressive_resize": "any_size", "whiten_stem": "stem"}
NOT_OPTIONS = ("fold", "name_axes")  # set by the grid itself
SCORING_OPTIONS = ("real_photos", "class_map")  # the grid's, not a run's: what finished runs are scored on

"""Run and grid configuration: dataclasses with their defaults' reasons, validation, YAML loading."""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from .config_values import read_time_budget, read_value
from .errors import ConfigError, unknown_choice
from .recipes import RECIPES
from .runfolder import file_safe

OPTIMIZERS = ("adam", "adamw", "rmsprop", "adadelta", "sgd")
SCHEDULES = ("none", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class RunConfig:
    """Everything one training run depends on; saved as config.json in its folder."""

    dataset: str = "digits"  # embedded, offline: scikit-learn's 8x8 digits
    data_dir: str | None = None  # where IDX/CIFAR files live; else $BAKEOFF_DATA, ~/.cache/bakeoff
    img_size: int | None = None  # folder datasets only: default median size, capped at 64
    train_subset: int | None = None  # keep N training images (seed 004 used 20,000)
    val_fraction: float = 0.1  # carved from training data; the test split never chooses a model
    model: str = "simple-cnn"
    optimizer: str = "adam"
    lr: float = 1e-3  # Keras' Adam default, the seeds' setting
    momentum: float = 0.9  # sgd only
    nesterov: bool = True  # sgd only
    schedule: str = "none"
    epochs: int = 10
    batch_size: int = 128
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = False  # random crop with padding, plus horizontal flip where it suits the data
    photo_augment: bool = False  # also warp, dim and blur training images as converted photos vary (object datasets)
    train_photos: str | None = None  # a folder of labelled real photos, converted as predict sees them; 4/5 join
    # training, 1/5 is scored after it (photo_training.py)
    photo_class_map: str | None = None  # --class-map for train_photos' folder names: 'pants=Trouser,...'
    progressive_resize: int | None = None  # epoch 1 trains on images this many pixels a side, growing to their
    # own size just past halfway (engine/resize.py); models that pool globally only
    whiten_stem: bool = False  # fast-net: the stem conv set to the whitening of training patches, frozen
    # (engine/whitening.py)
    tta: bool = False  # test-time augmentation: validation and test logits averaged with the mirror image's
    patience: int | None = None  # epochs without val-loss improvement before stopping; None: never stop early
    seed: int = 0
    recipe: str = "none"  # a preset of the fields above (engine/recipes.py); recorded for the record
    device: str = "auto"  # cuda when available
    precision: str = "auto"  # bf16 autocast on CPUs with AVX512-BF16 and GPUs that support it
    # Transfer learning and the autoencoder (models/pretrained.py, engine/stages.py)
    pretrained: str = "none"  # none | imagenet (vgg16, resnet50: torchvision's weights) | a best.pt or run folder
    weights: str | None = None  # local ImageNet weight file (torchvision format) instead of the download;
    # the command line turns --weights alone into --pretrained imagenet
    freeze: str = "none"  # none | backbone: train the head only, on backbone features computed once
    finetune_blocks: int | None = None  # train only the last N backbone blocks (+ head); None: every block
    backbone_lr_scale: float = 0.1  # lr of those blocks = lr x this: pretrained features move slowly
    denoise: float = 0.0  # autoencoder: std of Gaussian input noise, 0..1 pixel scale (Keras tutorials: 0.5)
    latent_dim: int = 64  # autoencoder: code size, also the PCA components it is compared with
    # Budgets and splits that make a comparison fair (compare.py, engine/budget.py, tuning.py)
    folds: int | None = None  # K: stratified K-fold of the training data replaces --val-fraction; one run per fold
    fold: int = 0  # which of the K folds validates this run
    time_budget: float | None = None  # seconds of training per run; the epochs are sized to fit (engine/budget.py)
    tune: int | None = None  # trials of hyperparameter search per model before the seeds are trained (tuning.py)
    name_axes: list[str] = field(default_factory=list)  # grid axes that vary, so they appear in the run id

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Types and ranges only: nothing is read from disk and nothing is changed (files named by
        options are checked before work starts, by models/pretrained.check_sources)."""
        from .models import is_model, list_models  # late: the zoo imports torch models

        self._validate_types()
        if not is_model(self.model):
            raise unknown_choice("model", self.model, list_models())
        for name, value, choices in (("optimizer", self.optimizer, OPTIMIZERS),
                                     ("schedule", self.schedule, SCHEDULES),
                                     ("device", self.device, DEVICES),
                                     ("precision", self.precision, PRECISIONS)):
            if value not in choices:
                raise unknown_choice(name, value, choices)
        if self.recipe not in RECIPES:
            raise unknown_choice("recipe", self.recipe, RECIPES)
        _check(self.lr > 0, f"--lr must be positive, got {self.lr}")
        _check(1 <= self.epochs <= MAX_EPOCHS, f"--epochs must be in 1..{MAX_EPOCHS:,}, got {self.epochs}")
        _check(self.batch_size <= MAX_BATCH, f"--batch-size must be at most {MAX_BATCH:,}, got {self.batch_size}")
        _check(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        _check(0 <= self.val_fraction < 1, f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        _check(0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        _check(self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}")
        _check(self.patience is None or self.patience >= 1, f"--patience must be at least 1, got {self.patience}")
        _check(self.img_size is None or 4 <= self.img_size <= 512, f"--img-size must be in 4..512, got {self.img_size}")
        self._validate_model_traits()
        _check(0 <= self.momentum < 1, f"--momentum must be in [0, 1), got {self.momentum}")
        _check(0 <= self.seed <= MAX_SEED, f"seeds must be whole numbers in 0..{MAX_SEED}, got {self.seed}")
        _check(self.train_subset is None or self.train_subset >= 1,
               f"--train-subset must be at least 1, got {self.train_subset}")
        _check(self.photo_class_map is None or self.train_photos is not None,
               "a photo class map goes with --train-photos (--class-map maps its folder names)")
        _check(self.train_photos is None or self.train_photos.strip() != "", "--train-photos needs a folder")
        _check(self.folds is None or 2 <= self.folds <= 100, f"--folds must be in 2..100, got {self.folds}")
        _check(0 <= self.fold < (self.folds or 1), f"fold {self.fold} is not one of the {self.folds or 1} folds")
        _check(self.tune is None or 1 <= self.tune <= 10000, f"--tune must be in 1..10000 trials, got {self.tune}")
        _check(self.time_budget is None or 0 < self.time_budget <= 7 * 86400,
               f"--time-budget must be more than 0 s and at most a week, got {self.time_budget}")
        unknown = [a for a in self.name_axes if a not in OPTION_AXES]
        _check(not unknown, f"not grid axes: {', '.join(map(str, unknown))}")
        self._validate_transfer()

    def _validate_types(self) -> None:
        """Each field holds the type it is declared with (config.json, a grid file and the API all reach here)."""
        for f in fields(self):
            if f.name == "name_axes":
                _check(isinstance(self.name_axes, list) and all(isinstance(a, str) for a in self.name_axes),
                       "name_axes must be a list of option names")
                continue
            kind, optional = field_kind(f)
            value = getattr(self, f.name)
            if value is None and optional:
                continue
            expected = {"int": int, "float": (int, float), "bool": bool, "str": str}[kind]
            ok = isinstance(value, expected) and (kind == "bool" or not isinstance(value, bool))
            if ok and kind == "float" and not math.isfinite(value):
                ok = False
            _check(ok, f"{f.name.replace('_', '-')} must be {_KIND_WORDS[kind]}, got {value!r:.60}")

    def _validate_model_traits(self) -> None:
        """Options that only some models can take."""
        from .models import has_trait, models_with

        if self.progressive_resize is not None:
            _check(4 <= self.progressive_resize <= 512,
                   f"--progressive-resize must be in 4..512 pixels, got {self.progressive_resize}")
            _check(has_trait(self.model, "any_size"),
                   f"--progressive-resize needs a model that pools globally, so it takes any image size "
                   f"({', '.join(models_with('any_size'))}); {self.model} does not")
            _check(self.freeze == "none" and not self.finetune_blocks,
                   "--progressive-resize trains the whole network; it does not go with --freeze or --finetune-blocks")
        if self.whiten_stem:
            _check(has_trait(self.model, "stem"),
                   f"--whiten-stem works on {', '.join(models_with('stem'))}, not {self.model}")
            _check(self.pretrained == "none", "--whiten-stem sets a fresh network's first layer; "
                   "it does not go with --pretrained")

    def _validate_transfer(self) -> None:
        from .models.pretrained import IMAGENET_WEIGHTS  # a table of published files; nothing is read

        if self.pretrained == "imagenet" and self.model not in IMAGENET_WEIGHTS:
            raise ConfigError(f"no ImageNet weights for '{self.model}'; they exist for: {', '.join(IMAGENET_WEIGHTS)} "
                              f"(or give --pretrained a bakeoff best.pt)")
        _check(self.weights is None or self.pretrained == "imagenet",
               "--weights goes with --pretrained imagenet; a bakeoff checkpoint is given to --pretrained")
        if self.freeze not in ("none", "backbone"):
            raise unknown_choice("--freeze", self.freeze, ("none", "backbone"))
        _check(self.finetune_blocks is None or self.finetune_blocks >= 1,
               f"--finetune-blocks must be at least 1, got {self.finetune_blocks}")
        _check(0 < self.backbone_lr_scale <= 10,
               f"--backbone-lr-scale must be in (0, 10], got {self.backbone_lr_scale}")
        _check(0 <= self.denoise <= 10, f"--denoise must be in [0, 10] (0..1 pixel scale), got {self.denoise}")
        _check(1 <= self.latent_dim <= 65536, f"--latent-dim must be in 1..65536, got {self.latent_dim}")

    @property
    def run_id(self) -> str:
        """Folder name of the run: the grid coordinates that tell runs apart.

        Numbers are written in full (repr), so two settings never share a folder (0.001 and 0.0010000001 did
        under `:g`); values as common as 1e-3 read as before: lr0.001.
        """
        return self._name(replicate=True)

    @property
    def row_id(self) -> str:
        """The run id without its seed and fold: the leaderboard row this run is one replicate of."""
        return self._name(replicate=False)

    def _name(self, replicate: bool) -> str:
        aug = "aug" if self.augment else "noaug"
        aug += "+photo" if self.photo_augment else ""
        recipe = "" if self.recipe == "none" else f"_{self.recipe}"
        recipe += "_photos" if self.train_photos else ""  # trained on real photos too: never the same run
        seed = f"_seed{self.seed}" if replicate else ""
        fold = f"_fold{self.fold}of{self.folds}" if replicate and self.folds else ""
        return (f"{self.model}_{self.optimizer}_lr{_num(self.lr)}_{aug}{seed}{recipe}{self._transfer_suffix()}"
                f"{self._axes_suffix()}{fold}")

    def _axes_suffix(self) -> str:
        """Swept options that the name does not show yet, e.g. '_ep5_bs64' in a grid over epochs and batch sizes."""
        parts = []
        for name in sorted(set(self.name_axes) & set(AXIS_TAGS), key=list(AXIS_TAGS).index):
            value = getattr(self, name)
            shown = {True: "on", False: "off", None: "none"}.get(value, value) if not isinstance(value, (int, float)) \
                or isinstance(value, bool) or value is None else _num(value)
            parts.append(f"{AXIS_TAGS[name]}{shown}")
        return "".join(f"_{file_safe(p)}" for p in parts)

    def _transfer_suffix(self) -> str:
        """Transfer and autoencoder options that differ from their defaults ('' keeps older run ids)."""
        parts = []
        if self.pretrained != "none":
            parts.append(f"pt-{pretrained_label(self.pretrained)}")
        if self.freeze != "none":
            parts.append(f"freeze-{self.freeze}")
        if self.finetune_blocks:
            parts.append(f"ft{self.finetune_blocks}x{_num(self.backbone_lr_scale)}")
        if self.model == "autoencoder" and self.latent_dim != RunConfig.latent_dim:
            parts.append(f"z{self.latent_dim}")
        if self.model == "autoencoder" and self.denoise:
            parts.append(f"dn{_num(self.denoise)}")
        return "".join(f"_{p}" for p in parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"a run configuration is a mapping of option names to values, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


MAX_EPOCHS = 100_000  # 2**64 epochs was accepted and trained "forever"; papers train for hundreds
MAX_BATCH = 1 << 20  # images per step; beyond any dataset bakeoff holds in memory
MAX_SEED = 2 ** 32 - 1  # numpy's and torch's generators both take it; larger seeds would wrap or fail mid-run
_KIND_WORDS = {"int": "a whole number", "float": "a finite number", "bool": "true or false", "str": "text"}


def field_kind(f) -> tuple[str, bool]:
    """('int' | 'float' | 'bool' | 'str', optional) of a RunConfig field, from its annotation."""
    text = str(f.type)
    return text.split(" | ")[0], "None" in text


def _num(value: float) -> str:
    """A number for a run id: short where that is exact (0.001, 1e-05, 3, 1e+12), else in full (0.0010000001)."""
    short = f"{value:g}"
    return short if float(short) == float(value) else repr(float(value))


def pretrained_label(pretrained: str) -> str:
    """Short, file-safe name of the weights' origin for run ids: 'imagenet' or the source run's folder name.

    From the text alone (a run id must not depend on what is on disk): a path ending in a .pt file names
    its folder's run, any other path is the run folder itself.
    """
    if pretrained in ("none", "imagenet"):
        return pretrained
    path = Path(pretrained)
    name = (path.parent.name or path.stem) if path.suffix in (".pt", ".pth") else path.name
    return file_safe(name)


# Options about starting from pretrained weights: in a line-up that mixes models with and without ImageNet
# weights, `--pretrained imagenet` and these go to the models that have weights; the others train from scratch.
TRANSFER_OPTIONS = ("pretrained", "weights", "freeze", "finetune_blocks", "backbone_lr_scale")
PRETRAINED_FOLDER_IMG_SIZE = 160  # folder photos for ImageNet backbones, unless --img-size says otherwise:
# efficientnet-lite0 on clothing-photos, head only, 15 epochs: validation accuracy 72.0% at 64 px (the folder
# default cap), 84.0% at 128, 86.3% at 160, whose features cost 1.6x 128's (docs/transfer-learning.md)

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
# choice of one is then dropped instead: commands/configs.py).
TRAIT_OPTIONS = {"progressive_resize": "any_size", "whiten_stem": "stem"}
NOT_OPTIONS = ("fold", "name_axes")  # set by the grid itself
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

    @classmethod
    def from_options(cls, options: dict) -> "GridConfig":
        """A grid from flat options as a user writes them: the named axes (models, lrs, ...) as lists or comma
        text, any other option one value or a list of values (a swept axis), each value read as its option
        means (config_values.py). Unknown options and lists for options that are not axes get one clear line."""
        named, axes, base = {}, {}, {}
        for key, value in options.items():
            name = str(key).replace("-", "_")
            if name in GRID_AXES:
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
        return cls(**named, base=base, axes=axes)

    def runs(self) -> list[RunConfig]:
        """Every run of the grid, validated, in a stable order (model-major); duplicates refused in one line."""
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
            options = self._options_for(model, {**self.base, **dict(zip(names, values))})
            for fold in range(folds or 1):
                named = [a for a in varying if a in options and a in AXIS_TAGS]  # swept, and used by this model
                cfg = RunConfig(**options, model=model, optimizer=opt, lr=float(lr), augment=bool(aug),
                                seed=int(seed), fold=fold, name_axes=named)
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
        """As grid.json keeps it: the named axes, the shared options, and each other axis as its list."""
        return {"models": self.models, "optimizers": self.optimizers, "lrs": self.lrs, "augment": self.augment,
                "seeds": self.seeds, **self.base, **self.axes}

    def swept(self) -> list[str]:
        """Names of the axes with more than one value (named axes by their plural)."""
        named = [a for a in GRID_AXES if len(getattr(self, a)) > 1]
        return named + [a for a, v in self.axes.items() if len(v) > 1]

    def _options_for(self, model: str, options: dict) -> dict:
        """The options of one grid point as they apply to `model`.

        `--pretrained imagenet` over a line-up that mixes models with and without ImageNet weights starts
        the ones that have them from those weights (with --freeze/--finetune-blocks); the others train from
        scratch, whole. A line-up in which no model has them is refused, by RunConfig, in one line. Photo
        folders are then loaded at PRETRAINED_FOLDER_IMG_SIZE unless --img-size is given, for every run, so
        that all see the same images.
        """
        from .models import has_trait
        from .models.pretrained import IMAGENET_WEIGHTS  # a table of published files; nothing is read

        options = dict(options)
        if model != "autoencoder":
            for key in AUTOENCODER_OPTIONS:
                options.pop(key, None)
        for key, trait in TRAIT_OPTIONS.items():  # a line-up in which no model takes one is refused by RunConfig
            if not has_trait(model, trait) and any(has_trait(m, trait) for m in self.models):
                options.pop(key, None)
        if "pretrained" in self.axes and options.get("pretrained", "none") == "none":
            for key in TRANSFER_OPTIONS:  # how to adapt pretrained weights means nothing for the scratch points
                options.pop(key, None)
        imagenet = "imagenet" in [self.base.get("pretrained"), *self.axes.get("pretrained", [])]
        if not imagenet or not any(m in IMAGENET_WEIGHTS for m in self.models):
            return options
        if str(options.get("dataset", "")).startswith("folder:") and options.get("img_size") is None \
                and "img_size" not in self.axes:
            options["img_size"] = PRETRAINED_FOLDER_IMG_SIZE
        if model not in IMAGENET_WEIGHTS and options.get("pretrained") == "imagenet":
            for key in TRANSFER_OPTIONS:
                options.pop(key, None)
        return options


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


def parse_list(text: str, cast=str) -> list:
    """'a,b, c' -> ['a', 'b', 'c'], cast to a type; a clear error on a bad item."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ConfigError(f"empty list: '{text}'")
    try:
        return [cast(t) for t in items]
    except ValueError:
        raise ConfigError(f"cannot read '{text}' as a comma-separated list of {cast.__name__}") from None


MAX_GRID_FILE_BYTES = 1_000_000


def load_grid_file(path: str | Path) -> dict:
    """Read a grid YAML file into flat option names (dashes or underscores both accepted).

    YAML anchors and aliases are refused: a grid file needs none, and nested aliases ("billion laughs")
    expand to gigabytes in whatever walks the result.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"grid file not found: {p}")
    if p.stat().st_size > MAX_GRID_FILE_BYTES:
        raise ConfigError(f"{p}: {p.stat().st_size:,} bytes; a grid file may hold at most {MAX_GRID_FILE_BYTES:,}")
    try:
        text = p.read_text()
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise ConfigError(f"{p}: YAML aliases (*name) are not allowed in a grid file; write the values out")
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of option names to values")
    valid = (set(GRID_AXES) | set(RUN_FIELD_NAMES) | {"out"}) - set(GRID_AXES.values()) - set(NOT_OPTIONS)
    out = {}
    for key, value in raw.items():
        k = str(key).replace("-", "_")
        if k not in valid:
            raise unknown_choice(f"key in {p.name}:", f"{key!s:.60}", valid)
        if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
            raise ConfigError(f"{p.name}: {key}: a list of single values is expected, not nested lists or mappings")
        if isinstance(value, dict):
            raise ConfigError(f"{p.name}: {key}: expected a value or a list of values, not a mapping")
        out[k] = value
    return out


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)

"""One run's configuration: the dataclass whose defaults carry their reasons, and its types and ranges.

Pure: nothing is read from disk and no model is built. Whether the model exists and takes an option (its
traits, its ImageNet weights) is the zoo's to say: models/options.py checks a RunConfig against it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import ConfigError, unknown_choice
from ..files import file_safe
from .axes import AXIS_TAGS, OPTION_AXES
from .recipes import RECIPES

OPTIMIZERS = ("adam", "adamw", "rmsprop", "adadelta", "sgd")
SCHEDULES = ("none", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
FREEZE = ("none", "backbone", "probe")  # backbone: the head trained on cached features; probe: its final layer
# fitted by logistic regression on them (engine/probe.py)


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
    # training, 1/5 is scored after it (data/photos/training.py)
    photo_class_map: str | None = None  # --class-map for train_photos' folder names: 'pants=Trouser,...'
    progressive_resize: int | None = None  # epoch 1 trains on images this many pixels a side, growing to their
    # own size just past halfway (engine/resize.py); models that pool globally only
    whiten_stem: bool = False  # fast-net: the stem conv set to the whitening of training patches, frozen
    # (engine/whitening.py)
    tta: bool = False  # test-time augmentation: validation and test logits averaged with the mirror image's
    patience: int | None = None  # epochs without val-loss improvement before stopping; None: never stop early
    seed: int = 0
    recipe: str = "none"  # a preset of the fields above (config/recipes.py); recorded for the record
    device: str = "auto"  # cuda when available
    precision: str = "auto"  # bf16 autocast on CPUs with AVX512-BF16 and GPUs that support it
    # Transfer learning and the autoencoder (models/pretrained.py, engine/stages.py)
    pretrained: str = "none"  # none | imagenet (vgg16, resnet50: torchvision's weights) | a best.pt or run folder
    weights: str | None = None  # local ImageNet weight file (torchvision format) instead of the download;
    # the command line turns --weights alone into --pretrained imagenet
    freeze: str = "none"  # none | backbone: train the head only, on backbone features computed once | probe: the
    # final linear layer fitted to them by L-BFGS logistic regression, its strength chosen on validation
    finetune_blocks: int | None = None  # train only the last N backbone blocks (+ head); None: every block
    backbone_lr_scale: float = 0.1  # lr of those blocks = lr x this: pretrained features move slowly
    denoise: float = 0.0  # autoencoder: std of Gaussian input noise, 0..1 pixel scale (Keras tutorials: 0.5)
    latent_dim: int = 64  # autoencoder: code size, also the PCA components it is compared with
    # Budgets and splits that make a comparison fair (runs/grid.py, engine/budget.py, runs/tuning.py)
    folds: int | None = None  # K: stratified K-fold of the training data replaces --val-fraction; one run per fold
    fold: int = 0  # which of the K folds validates this run
    time_budget: float | None = None  # seconds of training per run; the epochs are sized to fit (engine/budget.py)
    tune: int | None = None  # trials of hyperparameter search per model before the seeds are trained (runs/tuning.py)
    name_axes: list[str] = field(default_factory=list)  # grid axes that vary, so they appear in the run id

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Types and ranges only: nothing is read from disk and nothing is changed (the model and the options
        only some models take are checked by models/options.check_run; files named by options before work
        starts, by models/pretrained.check_sources)."""
        self._validate_types()
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
        self._validate_trait_ranges()
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

    def _validate_trait_ranges(self) -> None:
        """Options that only some models can take (which ones: models/options.py), in their ranges."""
        if self.progressive_resize is not None:
            _check(4 <= self.progressive_resize <= 512,
                   f"--progressive-resize must be in 4..512 pixels, got {self.progressive_resize}")
            _check(self.freeze == "none" and not self.finetune_blocks,
                   "--progressive-resize trains the whole network; it does not go with --freeze or --finetune-blocks")
        if self.whiten_stem:
            _check(self.pretrained == "none", "--whiten-stem sets a fresh network's first layer; "
                   "it does not go with --pretrained")

    def _validate_transfer(self) -> None:
        _check(self.weights is None or self.pretrained == "imagenet",
               "--weights goes with --pretrained imagenet; a bakeoff checkpoint is given to --pretrained")
        if self.freeze not in FREEZE:
            raise unknown_choice("--freeze", self.freeze, FREEZE)
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


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)

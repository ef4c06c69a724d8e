"""Run and grid configuration: dataclasses with their defaults' reasons, validation, YAML loading."""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

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

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Types and ranges only: nothing is read from disk and nothing is changed (files named by
        options are checked before work starts, by models/pretrained.check_sources)."""
        from .models import is_model, list_models  # late: the zoo imports torch models

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
        _check(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        _check(0 <= self.val_fraction < 1, f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        _check(0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        _check(self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}")
        _check(self.patience is None or self.patience >= 1, f"--patience must be at least 1, got {self.patience}")
        _check(self.img_size is None or 4 <= self.img_size <= 512, f"--img-size must be in 4..512, got {self.img_size}")
        self._validate_transfer()

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
        """Folder name of the run: the grid coordinates that tell runs apart."""
        aug = "aug" if self.augment else "noaug"
        aug += "+photo" if self.photo_augment else ""
        recipe = "" if self.recipe == "none" else f"_{self.recipe}"
        return f"{self.model}_{self.optimizer}_lr{self.lr:g}_{aug}_seed{self.seed}{recipe}{self._transfer_suffix()}"

    def _transfer_suffix(self) -> str:
        """Transfer and autoencoder options that differ from their defaults ('' keeps older run ids)."""
        parts = []
        if self.pretrained != "none":
            parts.append(f"pt-{pretrained_label(self.pretrained)}")
        if self.freeze != "none":
            parts.append(f"freeze-{self.freeze}")
        if self.finetune_blocks:
            parts.append(f"ft{self.finetune_blocks}x{self.backbone_lr_scale:g}")
        if self.model == "autoencoder" and self.latent_dim != RunConfig.latent_dim:
            parts.append(f"z{self.latent_dim}")
        if self.model == "autoencoder" and self.denoise:
            parts.append(f"dn{self.denoise:g}")
        return "".join(f"_{p}" for p in parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


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
# default cap), 84.0% at 128, 86.3% at 160, whose features cost 1.6x 128's (README, Transfer learning)

# Grid keys that take lists; every other RunConfig field is shared by all runs of the grid.
GRID_AXES = {"models": "model", "optimizers": "optimizer", "lrs": "lr", "seeds": "seed", "augment": "augment"}


@dataclass
class GridConfig:
    """A Cartesian grid of runs: models x optimizers x lrs x augment x seeds."""

    models: list[str] = field(default_factory=lambda: ["mlp", "simple-cnn", "cnn4", "basic-cnn", "resnet20"])
    optimizers: list[str] = field(default_factory=lambda: ["adam"])
    lrs: list[float] = field(default_factory=lambda: [1e-3])
    augment: list[bool] = field(default_factory=lambda: [False])
    seeds: list[int] = field(default_factory=lambda: [0])
    base: dict = field(default_factory=dict)  # shared RunConfig fields (dataset, epochs, ...)

    def runs(self) -> list[RunConfig]:
        """Every run of the grid, validated, in a stable order (model-major)."""
        out = []
        for model, opt, lr, aug, seed in itertools.product(self.models, self.optimizers, self.lrs,
                                                           self.augment, self.seeds):
            out.append(RunConfig(**self._options_for(model), model=model, optimizer=opt, lr=float(lr),
                                 augment=bool(aug), seed=int(seed)))
        return out

    def _options_for(self, model: str) -> dict:
        """The shared options as they apply to `model`.

        `--pretrained imagenet` over a line-up that mixes models with and without ImageNet weights starts
        the ones that have them from those weights (with --freeze/--finetune-blocks); the others train from
        scratch, whole. A line-up in which no model has them is refused, by RunConfig, in one line. Photo
        folders are then loaded at PRETRAINED_FOLDER_IMG_SIZE unless --img-size is given.
        """
        from .models.pretrained import IMAGENET_WEIGHTS  # a table of published files; nothing is read

        options = dict(self.base)
        if options.get("pretrained") != "imagenet" or not any(m in IMAGENET_WEIGHTS for m in self.models):
            return options
        if str(options.get("dataset", "")).startswith("folder:") and options.get("img_size") is None:
            options["img_size"] = PRETRAINED_FOLDER_IMG_SIZE
        if model not in IMAGENET_WEIGHTS:
            for key in TRANSFER_OPTIONS:
                options.pop(key, None)
        return options


def parse_list(text: str, cast=str) -> list:
    """'a,b, c' -> ['a', 'b', 'c'], cast to a type; a clear error on a bad item."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ConfigError(f"empty list: '{text}'")
    try:
        return [cast(t) for t in items]
    except ValueError:
        raise ConfigError(f"cannot read '{text}' as a comma-separated list of {cast.__name__}") from None


def load_grid_file(path: str | Path) -> dict:
    """Read a grid YAML file into flat option names (dashes or underscores both accepted)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"grid file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of option names to values")
    valid = set(GRID_AXES) | {f.name for f in fields(RunConfig)} | {"out"}
    valid -= {"model", "optimizer", "lr", "seed"}  # the grid takes these as lists
    out = {}
    for key, value in raw.items():
        k = str(key).replace("-", "_")
        if k not in valid:
            raise unknown_choice(f"key in {p.name}:", str(key), valid)
        out[k] = value
    return out


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)

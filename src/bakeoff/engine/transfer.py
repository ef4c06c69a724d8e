"""Transfer learning: where pretrained weights come from, how they load, and how a partly frozen model trains.

Weights (`--pretrained`):
  imagenet   torchvision's official files for vgg16 and resnet50, fetched by torch.hub with the sha256
             prefix in the file name checked, cached in $TORCH_HOME/hub/checkpoints (default
             ~/.cache/torch/hub/checkpoints); `--weights PATH` reads a local copy instead. Every backbone
             key must load with its shape; head keys that do not fit (all of them for the custom head)
             are left out and named in the run's metrics.
  PATH       a bakeoff best.pt (or its run folder) of the same model: every weight loads strictly, then
             `reset_classifier` gives the head a fresh final layer for the new classes.
Inputs are normalized as the weights were trained: ImageNet's mean/std, or the source run's.

Training:
  --freeze backbone     only the head trains. The backbone runs once over the data in eval mode
                        (BatchNorm running stats, no dropout) and its features are cached in memory;
                        the head trains on the cache. With --augment every epoch sees new images, so
                        nothing can be cached: the frozen backbone then runs every epoch instead.
  --finetune-blocks N   the last N backbone blocks and the head train, the blocks at lr x
                        --backbone-lr-scale; earlier blocks stay frozen in eval mode.
"""
from __future__ import annotations

import contextlib
import re
import socket
import time
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import BakeoffError, ConfigError
from .device import autocast
from .loop import EVAL_BATCH, FitResult, Split, fit

IMAGENET_WEIGHTS = {  # torchvision's IMAGENET1K_V1 files; the 8 hex digits are the sha256 prefix torch.hub checks
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
}
IMAGENET_HEADS = {"vgg16": "classifier.", "resnet50": "fc."}  # the 1000-class head inside those files
IMAGENET_MEAN = [0.485, 0.456, 0.406]  # torchvision's ImageNet statistics, 0..1 scale
IMAGENET_STD = [0.229, 0.224, 0.225]
DOWNLOAD_TIMEOUT_S = 30  # per socket operation: a blocked network fails in seconds, not never
CACHE_LIMIT_BYTES = 4 * 2**30  # larger feature caches (e.g. resnet50 at 224x224: 400 KB per image) run uncached


# ---- which weights, and how inputs are normalized -------------------------------------------------------------

def checkpoint_file(pretrained: str) -> Path:
    """best.pt for a `--pretrained` path given as the file or its run folder."""
    p = Path(pretrained)
    return p / "best.pt" if p.is_dir() else p


def check_pretrained(model: str, pretrained: str, weights: str | None) -> None:
    """Fail fast (before any run starts) on a `--pretrained`/`--weights` combination that cannot work."""
    if pretrained == "none":
        return
    if pretrained == "imagenet":
        if model not in IMAGENET_WEIGHTS:
            raise ConfigError(f"no ImageNet weights for '{model}'; they exist for: {', '.join(IMAGENET_WEIGHTS)} "
                              f"(or give --pretrained a bakeoff best.pt)")
        if weights is not None and not Path(weights).is_file():
            raise ConfigError(f"--weights: no file at {weights}")
        return
    if weights is not None:
        raise ConfigError("--weights goes with --pretrained imagenet; a bakeoff checkpoint is given to --pretrained")
    path = checkpoint_file(pretrained)
    if not path.is_file():
        raise ConfigError(f"--pretrained: no checkpoint at {path}; give none, imagenet, or a bakeoff best.pt "
                          f"or run folder")
    source = _source_model(path)
    if source is not None and source != model:
        raise ConfigError(f"--pretrained {pretrained} holds a '{source}', not a '{model}'")


def _source_model(path: Path) -> str | None:
    """The model named in the run folder's config.json (cheap: no need to unpickle the weights)."""
    import json

    try:
        return json.loads((path.parent / "config.json").read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None


def pretrained_label(pretrained: str) -> str:
    """Short, file-safe name of the weights' origin for run ids: 'imagenet' or the source run's folder name."""
    if pretrained in ("none", "imagenet"):
        return pretrained
    path = checkpoint_file(pretrained)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", path.parent.name or path.stem).strip("-")


def input_stats(cfg, in_chans: int) -> tuple[list[float], list[float]] | None:
    """Mean and std (0..1 scale) a pretrained model expects, or None: the dataset's own, as for any run."""
    if cfg.pretrained == "none":
        return None
    if cfg.pretrained == "imagenet":
        return adapt_stats(IMAGENET_MEAN, IMAGENET_STD, in_chans)
    pre = _load_source(cfg.pretrained)["preprocessing"]
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
    """Model kwargs beyond num_classes/in_chans/img_size: the autoencoder's code size, or a source run's options."""
    if cfg.pretrained not in ("none", "imagenet"):
        kwargs = dict(_load_source(cfg.pretrained)["model_kwargs"])
        return {k: v for k, v in kwargs.items() if k not in ("num_classes", "in_chans", "img_size")}
    return {"latent_dim": cfg.latent_dim} if cfg.model == "autoencoder" else {}


def _load_source(pretrained: str) -> dict:
    from .checkpoint import load_checkpoint

    return load_checkpoint(checkpoint_file(pretrained))


# ---- loading ------------------------------------------------------------------------------------------------

def load_pretrained(model: nn.Module, cfg) -> dict:
    """Put `cfg.pretrained` weights into a freshly built model; returns what happened, for metrics.json."""
    if cfg.pretrained == "none":
        return {}
    if cfg.pretrained == "imagenet":
        state, origin = imagenet_state_dict(cfg.model, cfg.weights)
        report = load_backbone(model, state, IMAGENET_HEADS[cfg.model], origin)
        return {"pretrained": "imagenet", "weights_file": origin, **report}
    ckpt = _load_source(cfg.pretrained)
    if ckpt["model"] != cfg.model:
        raise ConfigError(f"--pretrained {cfg.pretrained} holds a '{ckpt['model']}', not a '{cfg.model}'")
    num_classes = model.num_classes
    model.reset_classifier(len(ckpt["classes"]))  # the source's head shape, so every key loads strictly
    _check_shapes(model, ckpt["state_dict"], str(cfg.pretrained), ckpt.get("preprocessing", {}))
    model.load_state_dict(ckpt["state_dict"])
    model.reset_classifier(num_classes)  # a fresh final layer for the new classes
    return {"pretrained": str(checkpoint_file(cfg.pretrained)), "source_classes": len(ckpt["classes"])}


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


def imagenet_state_dict(model_name: str, weights: str | None) -> tuple[dict, str]:
    """torchvision's ImageNet state_dict for `model_name` from `weights` or torch.hub; (state, where from)."""
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as e:  # not a zip/pickle, or something weights_only refuses
            raise BakeoffError(f"--weights {weights}: not a readable torch weight file "
                               f"({str(e).splitlines()[0][:160]})") from None
        origin = str(weights)
    else:
        url = IMAGENET_WEIGHTS[model_name]
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                state = torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False,
                                                           check_hash=True, weights_only=True)
        except Exception as e:  # URLError, timeouts, a failed checksum (RuntimeError), a refused pickle
            cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[1]
            raise BakeoffError(f"cannot get ImageNet weights for {model_name} from {url} "
                               f"({str(e).splitlines()[0][:120]}); offline? fetch that file on a connected "
                               f"machine and pass --weights PATH, or put it at {cached}") from None
        origin = url
    if isinstance(state, dict) and "state_dict" in state and "model" in state:
        raise BakeoffError(f"{origin} is a bakeoff checkpoint: give it to --pretrained, not --weights")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BakeoffError(f"{origin}: not a state_dict (a mapping of names to tensors)")
    return state, origin


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


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
    head_ids = {id(p) for p in head_parameters(model)}
    named = dict(model.named_parameters())
    for key in new_keys:
        if key not in named or id(named[key]) not in head_ids:
            raise BakeoffError(f"{origin} lacks backbone weight {key} of {type(model).__name__}")
    merged = {**own, **{k: v.to(own[k].dtype) for k, v in loaded.items()}}
    model.load_state_dict(merged)
    return {"loaded_keys": len(loaded), "head_keys_skipped": sorted(set(head) - set(fitting)),
            "head_keys_new": new_keys}


# ---- backbone blocks and the head ---------------------------------------------------------------------------

def backbone_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's blocks, input first: what `--finetune-blocks` counts and `--freeze backbone` freezes.

    A model may say (`backbone_blocks()`: vgg16, resnet50, autoencoder); else by layout: a `features` conv
    stack splits after each pool, a ResNet into its stem and `layerN` stages, an MLP at each Linear.
    """
    if hasattr(model, "backbone_blocks"):
        return model.backbone_blocks()
    if isinstance(getattr(model, "features", None), nn.Sequential):
        return _split_after(list(model.features), lambda m: isinstance(m, (nn.MaxPool2d, nn.Identity)))
    names = [n for n, _ in model.named_children()]
    if "layer1" in names:
        stem = nn.Sequential(*[m for n, m in model.named_children() if names.index(n) < names.index("layer1")])
        return [stem] + [m for n, m in model.named_children() if re.fullmatch(r"layer\d+", n)]
    if isinstance(getattr(model, "hidden", None), nn.Sequential):
        return _split_before(list(model.hidden), lambda m: isinstance(m, nn.Linear))
    raise ConfigError(f"{type(model).__name__} does not say which layers form its backbone")


def _split_after(layers: list[nn.Module], ends) -> list[nn.Module]:
    blocks, current = [], []
    for layer in layers:
        current.append(layer)
        if ends(layer):
            blocks.append(nn.Sequential(*current))
            current = []
    if current:  # layers after the last pool: a block of their own (basic-cnn's last conv), or, without
        has_params = any(True for m in current for _ in m.parameters())  # parameters (simple-cnn's Dropout),
        if blocks and not has_params:  # part of the last block
            blocks[-1] = nn.Sequential(*blocks[-1], *current)
        else:
            blocks.append(nn.Sequential(*current))
    return blocks


def _split_before(layers: list[nn.Module], starts) -> list[nn.Module]:
    blocks: list[list[nn.Module]] = []
    for layer in layers:
        if starts(layer) or not blocks:
            blocks.append([])
        blocks[-1].append(layer)
    return [nn.Sequential(*b) for b in blocks]


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters that `forward_head` uses: all but the backbone blocks' (and an autoencoder's decoder)."""
    skip = {id(p) for b in backbone_blocks(model) for p in b.parameters()}
    decoder = getattr(model, "decoder", None)
    if decoder is not None:
        skip |= {id(p) for p in decoder.parameters()}
    return [p for p in model.parameters() if id(p) not in skip]


class PartlyFrozen(nn.Module):
    """`model` with some blocks held in eval mode whatever `train()` says (frozen BatchNorm, no dropout)."""

    def __init__(self, model: nn.Module, frozen: list[nn.Module]):
        super().__init__()
        self.model = model
        self._frozen = list(frozen)  # a plain list: not registered twice in the state_dict

    def train(self, mode: bool = True):
        super().train(mode)
        for block in self._frozen:
            block.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class HeadOnly(nn.Module):
    """The head of `model` as a network of its own: cached features in, logits out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(features)


@contextlib.contextmanager
def frozen(blocks: list[nn.Module]):
    """No gradients for these blocks' parameters while inside; restored afterwards."""
    params = [p for b in blocks for p in b.parameters()]
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def extract_features(model: nn.Module, x: torch.Tensor, device: torch.device, precision: str) -> torch.Tensor:
    """forward_features over `x` in eval mode, batched: (N, ...) float32, the cache the head trains on."""
    model.eval()
    out = []
    with torch.no_grad():  # not inference_mode: the head's autograd must be able to read these tensors
        for i in range(0, max(len(x), 1), EVAL_BATCH):  # an empty split (--val-fraction 0) still gives (0, ...)
            with autocast(device, precision):
                f = model.forward_features(x[i:i + EVAL_BATCH])
            out.append(f.float())
    return torch.cat(out)


def cache_bytes(model: nn.Module, sample: torch.Tensor, n: int) -> int:
    """Memory the cached features of `n` images would take."""
    model.eval()
    with torch.no_grad():
        return model.forward_features(sample[:1]).numel() * 4 * n


# ---- training strategies ------------------------------------------------------------------------------------

def fit_frozen(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, on_epoch=None,
               quiet: bool = False, cache: bool | None = None, stage: str = "head",
               **fit_kwargs) -> tuple[FitResult, dict]:
    """Train the head alone on a frozen backbone, on cached features unless `cache` is False or --augment."""
    blocks = backbone_blocks(model)
    n = len(train) + (len(val) if val is not None else 0)
    size = cache_bytes(model, train.x, n)
    if cache is None:
        cache = not cfg.augment and size <= CACHE_LIMIT_BYTES
    info = {"feature_cache": bool(cache), "trainable_params": sum(p.numel() for p in head_parameters(model))}
    extra_seconds = 0.0
    with frozen(blocks):
        if cache:
            start = time.perf_counter()
            train_on = Split(extract_features(model, train.x, device, precision), train.y)
            val_on = Split(extract_features(model, val.x, device, precision), val.y) if val is not None else None
            extra_seconds = time.perf_counter() - start
            info["feature_cache_seconds"] = extra_seconds
            info["feature_cache_mb"] = size / 2**20
            net: nn.Module = HeadOnly(model)
        else:
            train_on, val_on, net = train, val, PartlyFrozen(model, blocks)
        result = fit(net, train_on, val_on, cfg, device, precision, on_epoch=_tagged(on_epoch, stage, extra_seconds),
                     quiet=quiet, params=head_parameters(model), **fit_kwargs)
    _tag(result.history, stage, extra_seconds)
    return result, info


def fit_finetune(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, on_epoch=None,
                 quiet: bool = False, stage: str = "finetune", **fit_kwargs) -> tuple[FitResult, dict]:
    """Train the head and the last `cfg.finetune_blocks` blocks (at lr x backbone_lr_scale); the rest stays frozen."""
    blocks = backbone_blocks(model)
    n = min(cfg.finetune_blocks, len(blocks))
    fixed, tuned = blocks[:len(blocks) - n], blocks[len(blocks) - n:]
    head = head_parameters(model)
    tuned_params = [p for b in tuned for p in b.parameters()]
    groups = [{"params": head, "lr": cfg.lr},  # first: history's lr column follows the head
              {"params": tuned_params, "lr": cfg.lr * cfg.backbone_lr_scale}]
    info = {"finetuned_blocks": n, "backbone_blocks": len(blocks),
            "trainable_params": sum(p.numel() for p in head + tuned_params)}
    with frozen(fixed):
        result = fit(PartlyFrozen(model, fixed), train, val, cfg, device, precision,
                     on_epoch=_tagged(on_epoch, stage), quiet=quiet, params=groups, **fit_kwargs)
    _tag(result.history, stage)
    return result, info


def _tag(rows: list[dict], stage: str, first_epoch_extra: float = 0.0) -> None:
    """Label rows with their stage (once), adding the feature-cache time to epoch 1's seconds."""
    for row in rows:
        if "stage" not in row:
            row["stage"] = stage
            if row["epoch"] == 1:
                row["seconds"] += first_epoch_extra


def _tagged(on_epoch, stage: str, first_epoch_extra: float = 0.0):
    if on_epoch is None:
        return None

    def call(history: list[dict]) -> None:
        _tag(history, stage, first_epoch_extra)
        on_epoch(history)

    return call


__all__ = ["IMAGENET_WEIGHTS", "backbone_blocks", "head_parameters", "fit_frozen", "fit_finetune",
           "load_pretrained", "input_stats", "model_options"]

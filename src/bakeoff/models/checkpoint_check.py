"""What a checkpoint must hold before anything uses it: checked once, on load, with one line naming what is wrong.

A checkpoint that loads safely (weights_only) can still not fit: another model's name, kwargs the model does
not take, an empty or foreign state_dict, fewer class names than outputs, no `preprocessing`, an input side
of 30,000 px. Each of those used to surface later as a traceback in evaluate/predict/export, or as HTTP 500
on every request in serve. Here they become one CheckpointError, before a model is built or a port opened.
"""
from __future__ import annotations

import math

import torch

from ..errors import BakeoffError
from .registry import create_model, is_model, list_models

MAX_CLASSES = 100_000  # outputs: ImageNet-21k has 21,841; more is a damaged file, not a classifier
MAX_IMG_SIZE = 512  # px: what --img-size accepts (config/run.py); 30,000 would cost GBs per photo
CHANNELS = (1, 3)  # gray or RGB: what every loader produces
BACKGROUNDS = ("dark", "light", "none")  # data/domain.py's photo_domain
OBJECT_FILL = (0.3, 1.0)  # photo_domain clamps the measured share of the side to this range


class CheckpointError(BakeoffError):
    """A checkpoint or exported model whose contents do not fit together."""


def check_checkpoint(ckpt, where) -> None:
    """Raise CheckpointError naming the first thing in a loaded checkpoint that would fail later."""
    if not isinstance(ckpt, dict):
        _fail(where, f"holds a {type(ckpt).__name__}, not a bakeoff checkpoint (a dict)")
    missing = {"model", "model_kwargs", "state_dict", "classes", "preprocessing"} - set(ckpt)
    if missing:
        _fail(where, f"not a bakeoff checkpoint (missing {', '.join(sorted(missing))})")
    for key in ("config", "metrics"):
        if ckpt.get(key) is not None and not isinstance(ckpt[key], dict):
            _fail(where, f"'{key}' is a {type(ckpt[key]).__name__}, not a dict")
    check_metadata(ckpt, where)
    _check_metrics(ckpt.get("metrics") or {}, where)
    t = ckpt.get("temperature")  # temperature scaling, fitted after training; absent or None: not fitted
    if t is not None and not (_number(t) and t > 0):
        _fail(where, f"temperature {t!r:.40} is not a positive number")
    _check_state_dict(ckpt, where)


def check_metadata(meta, where) -> None:
    """The parts an exported model carries too: model name and kwargs, classes, preprocessing."""
    if not isinstance(meta, dict):
        _fail(where, f"metadata is a {type(meta).__name__}, not a dict")
    name = meta.get("model")
    if not isinstance(name, str) or not is_model(name):
        _fail(where, f"model {name!r:.60} is not one bakeoff has; it has: {', '.join(list_models())}")
    kwargs = meta.get("model_kwargs")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        _fail(where, f"'model_kwargs' is a {type(kwargs).__name__}, not a dict of named options")
    num_classes = _int(kwargs, "num_classes", 1, MAX_CLASSES, where, "model_kwargs")
    in_chans = _int(kwargs, "in_chans", 1, 3, where, "model_kwargs")
    img_size = _int(kwargs, "img_size", 4, MAX_IMG_SIZE, where, "model_kwargs")
    if in_chans not in CHANNELS:
        _fail(where, f"model_kwargs in_chans is {in_chans}; bakeoff models take {' or '.join(map(str, CHANNELS))}")
    _check_classes(meta.get("classes"), num_classes, where)
    _check_preprocessing(meta.get("preprocessing"), in_chans, img_size, where)


def _check_classes(classes, num_classes: int, where) -> None:
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        _fail(where, f"'classes' is a {type(classes).__name__}, not a list of names")
    if len(classes) != num_classes:
        _fail(where, f"{len(classes)} class names for a model with {num_classes} outputs")


def _check_preprocessing(pre, in_chans: int, img_size: int, where) -> None:
    """How photos are fed: must describe the input the model was built for, with usable statistics."""
    if not isinstance(pre, dict):
        _fail(where, f"'preprocessing' is a {type(pre).__name__}, not a dict")
    if not isinstance(pre.get("dataset"), str):
        _fail(where, "preprocessing has no dataset name")
    for key, model_value in (("in_chans", in_chans), ("img_size", img_size)):
        if type(pre.get(key)) is not int or pre[key] != model_value:  # type first: a tensor has no truth value
            _fail(where, f"preprocessing {key} is {pre.get(key)!r} but the model takes {model_value}")
    for key, low in (("mean", -math.inf), ("std", 0.0)):
        values = pre.get(key)
        if (not isinstance(values, list) or len(values) != in_chans
                or not all(_number(v) and low < v < math.inf for v in values)):
            what = "finite numbers" if key == "mean" else "positive finite numbers"
            _fail(where, f"preprocessing {key} must be {in_chans} {what} (one per channel), got {values!r:.80}")
    background = pre.get("background")
    if background is not None and (not isinstance(background, str) or background not in BACKGROUNDS):
        _fail(where, f"preprocessing background {background!r:.40} is none of {', '.join(BACKGROUNDS)}")
    fill = pre.get("object_fill")
    low, high = OBJECT_FILL
    if fill is not None and not (_number(fill) and low <= fill <= high):
        _fail(where, f"preprocessing object_fill {fill!r:.40} is outside {low}..{high} (the object's share "
                     "of the side)")


def _check_metrics(metrics: dict, where) -> None:
    """The few metrics serving reads and sorts by: numbers or absent."""
    for key in ("test_acc", "val_acc", "params"):
        if metrics.get(key) is not None and not _number(metrics[key]):
            _fail(where, f"metrics {key} is {metrics[key]!r:.40}, not a number")


def _check_state_dict(ckpt: dict, where) -> None:
    """Every weight the model has, of its shape, and nothing else: checked on a model built on the meta
    device, which allocates nothing, so kwargs claiming a billion-unit layer cost no memory."""
    state = ckpt["state_dict"]
    if not isinstance(state, dict) or not state:
        _fail(where, f"'state_dict' is {'empty' if isinstance(state, dict) else 'a ' + type(state).__name__}; "
                     "it should map each weight's name to a tensor")
    bad = next((k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        _fail(where, f"state_dict entry {bad!r:.60} is not a named tensor")
    name = ckpt["model"]
    try:
        with torch.device("meta"):
            expected = create_model(name, **ckpt["model_kwargs"]).state_dict()
    except Exception as e:  # the factory met kwargs it does not take or values of the wrong type
        _fail(where, f"model_kwargs do not build a {name}: {' '.join(str(e).split())[:160] or type(e).__name__}")
    missing, unexpected = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
    if missing or unexpected:
        _fail(where, f"its weights do not fit a {name} ({len(missing)} missing, e.g. {missing[:2]}; "
                     f"{len(unexpected)} unexpected, e.g. {unexpected[:2]})")
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            _fail(where, f"weight {key} is {tuple(state[key].shape)} but a {name} with these model_kwargs "
                         f"has {tuple(value.shape)}")


def _int(d: dict, key: str, low: int, high: int, where, owner: str) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
        _fail(where, f"{owner} {key} is {v!r:.40}; it must be a whole number in {low}..{high:,}")
    return v


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fail(where, what: str):
    raise CheckpointError(f"{where}: {what}")

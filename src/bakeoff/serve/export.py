"""ONNX and TorchScript export, checked against PyTorch before a byte is written.

The exported model takes float32 (B, C, H, W) already normalized and returns logits (B, K); how to
get there from a photo travels with it as JSON metadata (`bakeoff` key): classes, preprocessing, model.
ONNX keeps it in the model's metadata_props, TorchScript in an extra file `bakeoff.json`.
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..data import load_dataset
from ..data.pixels import normalize
from ..errors import BakeoffError, unknown_choice
from ..models.checkpoint import checkpoint_path, load_checkpoint, model_from_checkpoint
from ..models.checkpoint_check import check_metadata, CheckpointError
from ..models.inference import torch_forward
from .outputs import check_destination, write_file

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
TOLERANCE = 1e-4  # max |logit difference| accepted between the export and PyTorch
OPSET = 17  # ONNX opset: onnxruntime >= 1.14 runs it
N_RANDOM = 16  # random standard-normal inputs (the normalized scale), batch of 16
N_REAL = 256  # test images of the training dataset, when its files are on this machine


class ExportMismatch(BakeoffError):
    """The exported model disagrees with PyTorch by more than TOLERANCE."""


def metadata(ckpt: dict) -> dict:
    """What a serving program needs besides the weights, as plain JSON."""
    m = ckpt.get("metrics") or {}
    return {"model": ckpt["model"], "model_kwargs": ckpt["model_kwargs"], "classes": ckpt["classes"],
            "preprocessing": ckpt["preprocessing"],
            "metrics": {k: m.get(k) for k in ("run_id", "test_acc", "val_acc", "params", "mflops") if k in m},
            "input": "float32 (B, C, H, W): (pixel / 255 - mean) / std per channel",
            "output": "logits (B, num_classes)"}


def onnx_bytes(model: nn.Module, ckpt: dict) -> bytes:
    """The model as ONNX (dynamic batch) with `bakeoff` metadata; TorchScript-based exporter, no onnxscript."""
    import onnx

    k = ckpt["model_kwargs"]
    example = torch.zeros(2, k["in_chans"], k["img_size"], k["img_size"])
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notices, not the user's concern
        torch.onnx.export(model, (example,), buf, dynamo=False, opset_version=OPSET, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load_from_string(buf.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = "bakeoff", json.dumps(metadata(ckpt))
    return proto.SerializeToString()


def onnx_session(data: bytes | str | Path, threads: int = 1):
    """An onnxruntime CPU session; `threads` per call (1: many concurrent requests share the cores)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only
    return ort.InferenceSession(data if isinstance(data, bytes) else str(data), opts,
                                providers=["CPUExecutionProvider"])


def onnx_metadata(session, where="this ONNX file") -> dict:
    """The `bakeoff` metadata of a session made from an exported file, checked like a checkpoint's and
    against the model's own input and output shapes."""
    props = session.get_modelmeta().custom_metadata_map
    if "bakeoff" not in props:
        raise BakeoffError(f"{where} was not exported by `bakeoff export` (no bakeoff metadata)")
    try:
        meta = json.loads(props["bakeoff"])
    except ValueError:
        raise CheckpointError(f"{where}: its bakeoff metadata is not JSON") from None
    check_metadata(meta, where)
    if not isinstance(meta.get("metrics") or {}, dict):
        raise CheckpointError(f"{where}: metrics is a {type(meta['metrics']).__name__}, not a dict")
    k = meta["model_kwargs"]
    shapes = {"input": (session.get_inputs()[0].shape[1:], [k["in_chans"], k["img_size"], k["img_size"]]),
              "output": (session.get_outputs()[0].shape[1:], [k["num_classes"]])}
    for what, (actual, expected) in shapes.items():
        if list(actual) != expected:
            raise CheckpointError(f"{where}: the model's {what} is {list(actual)} per image but its metadata "
                                  f"says {expected}")
    return {**meta, "metrics": meta.get("metrics") or {}}


def torchscript_bytes(model: nn.Module, ckpt: dict) -> bytes:
    """The model traced to TorchScript with `bakeoff.json` beside it."""
    k = ckpt["model_kwargs"]
    example = torch.zeros(2, k["in_chans"], k["img_size"], k["img_size"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        with torch.no_grad():
            traced = torch.jit.trace(model, example)
        buf = io.BytesIO()
        torch.jit.save(traced, buf, _extra_files={"bakeoff.json": json.dumps(metadata(ckpt))})
    return buf.getvalue()


def check_inputs(ckpt: dict, data_dir: str | None = None) -> dict[str, np.ndarray]:
    """{'N random inputs': x, 'N <dataset> test images': x}; float32 (B, C, H, W), normalized."""
    k = ckpt["model_kwargs"]
    rng = np.random.default_rng(0)
    inputs = {f"{N_RANDOM} random inputs":
              rng.standard_normal((N_RANDOM, k["in_chans"], k["img_size"], k["img_size"])).astype(np.float32)}
    real = _real_images(ckpt["preprocessing"], data_dir)
    if real is not None:
        inputs[f"{len(real)} {ckpt['preprocessing']['dataset']} test images"] = real
    return inputs


def _real_images(pre: dict, data_dir: str | None) -> np.ndarray | None:
    """The first test images of the training dataset, normalized; None when its files are not here."""
    try:
        ds = load_dataset(pre["dataset"], data_dir=data_dir, img_size=pre["img_size"], download=False, quiet=True)
    except BakeoffError:
        return None
    x = normalize(ds.x_test[:N_REAL], pre["mean"], pre["std"])
    return np.ascontiguousarray(x.numpy())


def max_difference(reference, candidate, inputs: dict[str, np.ndarray]) -> dict[str, float]:
    """{input name: max |logit difference|} between two forward functions on each input batch and on 1 image."""
    diffs = {}
    for name, x in inputs.items():
        d = float(np.abs(reference(x) - candidate(x)).max())
        d1 = float(np.abs(reference(x[:1]) - candidate(x[:1])).max())  # batch of one: the dynamic axis works
        diffs[name] = max(d, d1)
    return diffs


def verified(fmt: str, ckpt: dict, model: nn.Module, data_dir: str | None = None) -> tuple[bytes, dict[str, float]]:
    """Export bytes and the measured differences; ExportMismatch (nothing written) above TOLERANCE."""
    if fmt == "onnx":
        data = onnx_bytes(model, ckpt)
        session = onnx_session(data, threads=0)  # 0: onnxruntime's default, all cores, for the check
        candidate = lambda x: session.run(["logits"], {"input": x})[0]  # noqa: E731
    elif fmt == "torchscript":
        data = torchscript_bytes(model, ckpt)
        candidate = torch_forward(torch.jit.load(io.BytesIO(data)))
    else:
        raise unknown_choice("format", fmt, FORMATS)
    diffs = max_difference(torch_forward(model), candidate, check_inputs(ckpt, data_dir))
    worst = max(diffs, key=diffs.get)
    if diffs[worst] > TOLERANCE:
        raise ExportMismatch(f"{fmt} export disagrees with PyTorch: max |logit difference| {diffs[worst]:.2e} "
                             f"> {TOLERANCE:g} on {worst}; nothing written")
    return data, diffs


def export_checkpoint(path: str | Path, fmt: str, out: str | Path | None = None,
                      data_dir: str | None = None, force: bool = False) -> dict:
    """Export a checkpoint (or run folder) to `out` (default: beside best.pt); returns what was checked.
    An existing file is replaced only with `force`, the checkpoint itself never."""
    if fmt not in FORMATS:
        raise unknown_choice("format", fmt, FORMATS)
    src = checkpoint_path(path)
    dest = Path(out) if out else src.with_name(src.stem + FORMATS[fmt])
    ckpt = load_checkpoint(path)
    check_destination(dest, force, sources=(src,))  # before the export's seconds of work
    model = model_from_checkpoint(ckpt)
    data, diffs = verified(fmt, ckpt, model, data_dir)
    write_file(dest, data)
    return {"path": str(dest), "format": fmt, "bytes": len(data), "max_abs_diff": diffs, "tolerance": TOLERANCE}

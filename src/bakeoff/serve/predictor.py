"""Load models once, preprocess photos as each was trained, predict top-k with class names and timings.

Used by `bakeoff predict`, the web app and the benchmark; knows nothing about HTTP.
"""
from __future__ import annotations

import base64
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..data.photos.decode import MIN_SIDE
from ..data.photos.preprocess import MAX_PIXELS, model_view, open_photo
from ..data.pixels import normalize_images
from ..errors import BakeoffError, unknown_choice
from ..models import inference
from ..models.inference import load_forward, softmax
from ..store.runfolder import CHECKPOINT_FILE, read_status
from .export import onnx_metadata, onnx_session, verified

RUNTIMES = ("torch", "onnx")


@dataclass
class LoadedModel:
    """One model ready to answer: its forward (float32 (B, C, H, W) -> logits (B, K)) and what feeds it."""

    name: str  # the run folder's name: unique within a comparison
    path: str
    model: str  # registry name, e.g. cnn4
    classes: list[str]
    preprocessing: dict
    metrics: dict
    forward: Callable[[np.ndarray], np.ndarray]
    runtime: str
    temperature: float | None = None  # fitted on validation after training (analysis/finished.py); None: not fitted
    calibrated: bool = False  # forward divides the logits by `temperature` (--calibrated)

    def describe(self) -> dict:
        pre = self.preprocessing
        return {"name": self.name, "model": self.model, "dataset": pre["dataset"], "classes": self.classes,
                "test_acc": self.metrics.get("test_acc"), "params": self.metrics.get("params"),
                "input": [pre["in_chans"], pre["img_size"], pre["img_size"]], "background": pre.get("background"),
                "runtime": self.runtime,  # never `path`: the server's folders are not the client's business
                "temperature": self.temperature if self.calibrated else None}


def find_checkpoints(path: str | Path) -> list[Path]:
    """best.pt / .onnx file; a run folder; or a comparison folder (every finished run's best.pt)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise BakeoffError(f"{p}: no such checkpoint, run folder or comparison folder")
    if (p / CHECKPOINT_FILE).is_file():
        return [p / CHECKPOINT_FILE]
    runs = []
    for run in sorted(d for d in p.iterdir() if d.is_dir()):
        finished = (read_status(run) or {}).get("status") == "finished"
        if finished and (run / CHECKPOINT_FILE).is_file():
            runs.append(run / CHECKPOINT_FILE)
    if not runs:
        raise BakeoffError(f"{p}: no best.pt and no finished runs in it (a run folder holds best.pt and metrics.json)")
    return runs


def load_model(path: Path, runtime: str = "torch", threads: int = 1) -> LoadedModel:
    """A checkpoint (runtime torch, or onnx: exported in memory and verified) or an exported .onnx file."""
    if runtime not in RUNTIMES:
        raise unknown_choice("runtime", runtime, RUNTIMES)
    name = path.parent.name if path.name == CHECKPOINT_FILE else path.name.split(".")[0]
    if path.suffix == ".onnx":
        try:
            session = onnx_session(path, threads)
        except Exception as e:  # onnxruntime raises its own exception types
            raise BakeoffError(f"{path}: not a readable ONNX model ({str(e).splitlines()[0][:200]})") from None
        meta = onnx_metadata(session, path)
        return LoadedModel(name, str(path), meta["model"], meta["classes"], meta["preprocessing"], meta["metrics"],
                           _onnx_forward(session), "onnx")
    ckpt, model, forward = load_forward(path)
    if runtime == "onnx":
        data, _ = verified("onnx", ckpt, model)  # ExportMismatch: refuse to serve a model that answers differently
        forward = _onnx_forward(onnx_session(data, threads))
    metrics = ckpt.get("metrics") or {}
    return LoadedModel(name, str(path), ckpt["model"], list(ckpt["classes"]), ckpt["preprocessing"], metrics,
                       forward, runtime, temperature=ckpt.get("temperature"))


def calibrated(m: LoadedModel) -> LoadedModel:
    """The model answering with its logits divided by its temperature: probabilities that match how often it is
    right (temperature scaling, fitted on validation data after training; the predicted class never changes)."""
    t = m.temperature
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not (0 < t < float("inf")):
        raise BakeoffError(f"{m.path}: no calibration temperature in it (--calibrated); `bakeoff compare` with the "
                           f"run's flags fits one on validation data without retraining (exported .onnx files "
                           f"carry none: use the run's best.pt)")
    raw = m.forward
    m.forward, m.calibrated = (lambda x: raw(x) / np.float32(t)), True
    return m


def _onnx_forward(session) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: session.run(["logits"], {"input": x})[0]


def probabilities(views: list[np.ndarray], model: LoadedModel, batch_size: int = 256) -> np.ndarray:
    """(N, K) class probabilities of many already-preprocessed views, fed as the model was trained, batched."""
    return inference.probabilities(views, model.preprocessing, model.forward, batch_size)


def top_k(probs: np.ndarray, classes: list[str], k: int) -> list[dict]:
    """[{label, prob}] best first for one image's (K,) probabilities."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [{"label": classes[i], "prob": round(float(probs[i]), 6)} for i in order]


def png_data_url(view: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(view).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def decode_side(models: list[LoadedModel]) -> int:
    """Px a photo is decoded to at least, on both sides: enough for every model's input, twice over."""
    return max(MIN_SIDE, 2 * max(m.preprocessing["img_size"] for m in models))


def _pre_key(pre: dict) -> str:
    """Models trained on the same data share one preprocessed view per photo."""
    return json.dumps({k: pre.get(k) for k in ("in_chans", "img_size", "background", "object_fill")}, sort_keys=True)


@dataclass
class Prepared:
    """One photo ready for its models' forward passes, and what the answer needs besides their logits."""

    image: dict  # the upright photo's width, height, mode
    inputs: dict[str, np.ndarray]  # model name -> float32 (1, C, H, W), normalized as that model was trained;
    # in the order the models were chosen, which is the order of the answer's results
    inputs_png: dict[str, str]  # model name -> what it sees as a PNG data URL (include_input only)
    preprocess_ms: float


@dataclass
class Predictor:
    """Every model of a comparison, loaded once; thread-safe (inference holds no state)."""

    models: list[LoadedModel]
    crop: bool = True  # object datasets: trim a photo to the object (False: `--no-crop`, the whole frame)
    by_name: dict[str, LoadedModel] = field(init=False)

    def __post_init__(self):
        if not self.models:
            raise BakeoffError("no models to serve")
        self.by_name = {m.name: m for m in self.models}

    @classmethod
    def load(cls, paths: list[str | Path], runtime: str = "torch", threads: int = 1, crop: bool = True,
             calibrated_probs: bool = False) -> "Predictor":
        """Every checkpoint under `paths` (see find_checkpoints), best test accuracy first; `calibrated_probs`:
        temperature-scaled probabilities (see `calibrated`)."""
        files = [f for p in paths for f in find_checkpoints(p)]
        models, seen = [], set()
        for f in files:
            m = load_model(f, runtime, threads)
            m = calibrated(m) if calibrated_probs else m
            base, n = m.name, 2
            while m.name in seen:  # two runs of the same name from different folders
                m.name, n = f"{base}-{n}", n + 1
            seen.add(m.name)
            models.append(m)
        models.sort(key=lambda m: -(m.metrics.get("test_acc") or 0))
        return cls(models, crop)

    def select(self, name: str | None) -> list[LoadedModel]:
        """All models, or the one named."""
        if name is None or name == "":
            return self.models
        if name not in self.by_name:
            raise unknown_choice("model", name, self.by_name)
        return [self.by_name[name]]

    def predict(self, source: bytes | str | Path, k: int = 3, model: str | None = None,
                include_input: bool = False, max_pixels: int = MAX_PIXELS, name: str = "image") -> dict:
        """One photo through each selected model: {image, preprocess_ms, results: [{model, top_k, ms, input?}]}."""
        if k < 1:
            raise BakeoffError(f"top_k must be at least 1, got {k}")
        prepared = self.prepare(source, model, include_input, max_pixels, name)
        logits, ms = {}, {}
        for m in self.select(model):
            t = time.perf_counter()
            logits[m.name] = m.forward(prepared.inputs[m.name])[0]
            ms[m.name] = 1000 * (time.perf_counter() - t)
        return self.answer(prepared, logits, ms, k)

    def prepare(self, source: bytes | str | Path, model: str | None = None, include_input: bool = False,
                max_pixels: int = MAX_PIXELS, name: str = "image") -> Prepared:
        """A photo decoded and preprocessed for each selected model, up to (not including) the forward passes:
        the server batches those across requests (batching.py)."""
        chosen = self.select(model)
        start = time.perf_counter()
        im = open_photo(source, max_pixels=max_pixels, name=name, min_side=decode_side(chosen))
        views, pngs = {}, {}  # by preprocessing: models trained on the same data share them
        inputs, inputs_png = {}, {}  # by model
        for m in chosen:
            key = _pre_key(m.preprocessing)
            if key not in views:
                views[key] = model_view(im, m.preprocessing, self.crop)
                pngs[key] = png_data_url(views[key]) if include_input else None
            inputs[m.name] = normalize_images([views[key]], m.preprocessing["mean"], m.preprocessing["std"])
            if include_input:
                inputs_png[m.name] = pngs[key]
        return Prepared({"width": im.width, "height": im.height, "mode": im.mode}, inputs, inputs_png,
                        1000 * (time.perf_counter() - start))

    def answer(self, prepared: Prepared, logits: dict[str, np.ndarray], ms: dict[str, float], k: int) -> dict:
        """The response for one prepared photo, given each model's logits (K,) and its forward's milliseconds."""
        results = []
        for name in prepared.inputs:
            m = self.by_name[name]
            result = {"model": name, "top_k": top_k(softmax(logits[name]), m.classes, k), "ms": round(ms[name], 3)}
            if name in prepared.inputs_png:
                result["input"] = prepared.inputs_png[name]
            results.append(result)
        return {"image": prepared.image, "preprocess_ms": round(prepared.preprocess_ms, 3), "results": results}

    def views(self, source: bytes | str | Path, model: LoadedModel, name: str = "image") -> tuple[Image.Image, np.ndarray]:
        """(the upright photo, what `model` sees): for `bakeoff predict --explain`."""
        im = open_photo(source, name=name, min_side=decode_side([model]))
        return im, model_view(im, model.preprocessing, self.crop)

    def predict_batch(self, views: list[np.ndarray], model: LoadedModel, k: int = 3,
                      batch_size: int = 256) -> list[list[dict]]:
        """Top-k for many already-preprocessed views, batched."""
        return [top_k(p, model.classes, k) for p in probabilities(views, model, batch_size)]

"""A trained model for Python code: `model.predict(images)` on arrays, tensors, PIL images or photo files.

What `bakeoff predict` does, without the command line: the checkpoint is loaded once (predictor.load_model),
arrays that already have the training size are normalized as training normalized them, and anything else
(photos, other sizes) goes through the same preprocessing `predict` and `serve` use (preprocess.model_view).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..data.arrays import to_nchw
from ..data.memory import as_numpy
from ..data.photos.preprocess import model_view, open_photo
from ..errors import BakeoffError
from .predictor import calibrated, decode_side, load_model, LoadedModel, probabilities, top_k as top_classes

PHOTO_TYPES = (str, Path, bytes)


class TrainedModel:
    """One finished run's model; `predict` gives the top classes, `predict_proba` every class's probability."""

    def __init__(self, checkpoint: str | Path, calibrated_probs: bool = False, crop: bool = True):
        """`checkpoint`: a run's best.pt or its folder. `calibrated_probs`: divide the logits by the temperature
        fitted on validation data (probabilities that match how often the model is right). `crop`: object
        datasets (Fashion-MNIST, MNIST) trim a photo to the object, as the dataset was made."""
        path = Path(checkpoint)
        path = path / "best.pt" if path.is_dir() else path
        if not path.is_file():
            raise BakeoffError(f"{path}: no such checkpoint (a finished run's folder holds best.pt)")
        self._loaded: LoadedModel = load_model(path)
        if calibrated_probs:
            self._loaded = calibrated(self._loaded)
        self.crop = crop

    @property
    def name(self) -> str:
        """The run's folder name, e.g. cnn4_adam_lr0.001_noaug_seed0."""
        return self._loaded.name

    @property
    def classes(self) -> list[str]:
        return list(self._loaded.classes)

    @property
    def metrics(self) -> dict:
        """The run's metrics.json as saved in the checkpoint (test_acc, val_acc, params, ...)."""
        return dict(self._loaded.metrics)

    @property
    def path(self) -> Path:
        return Path(self._loaded.path)

    def predict_proba(self, images) -> np.ndarray:
        """(N, K) class probabilities, columns in the order of `classes`."""
        return probabilities(self._views(images), self._loaded)

    def predict(self, images, top_k: int = 3) -> list[list[dict]]:
        """For each image its `top_k` classes, best first: [[{"label": "Sneaker", "prob": 0.93}, ...], ...].

        `images`: a batch as a NumPy array or torch tensor, (N, H, W), (N, H, W, C) or (N, C, H, W), uint8
        or floats in 0..1, like the training data (one image: (H, W), (H, W, C), or any batch of one); one
        photo (a path, bytes, a PIL image); or a list of those. Arrays of another size than the model's input
        are resized as photos would be.
        """
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise BakeoffError(f"top_k must be a whole number of at least 1, got {top_k!r}")
        return [top_classes(p, self.classes, top_k) for p in self.predict_proba(images)]

    def __repr__(self) -> str:
        pre = self._loaded.preprocessing
        acc = self._loaded.metrics.get("test_acc")
        shown = f", test_acc={100 * acc:.2f}%" if isinstance(acc, float) else ""
        return (f"TrainedModel({self.name}: {self._loaded.model} on {pre.get('dataset')}, "
                f"input {pre['in_chans']}x{pre['img_size']}x{pre['img_size']}, {len(self.classes)} classes{shown})")

    def _views(self, images) -> list[np.ndarray]:
        """What the model sees of each image: uint8 (S, S) or (S, S, 3) at its training size."""
        if isinstance(images, (*PHOTO_TYPES, Image.Image)):
            images = [images]
        if isinstance(images, (list, tuple)):
            if not images:
                raise BakeoffError("no images to predict")
            return [v for item in images for v in self._views_of(item)]
        return self._views_of(images)

    def _views_of(self, item) -> list[np.ndarray]:
        pre = self._loaded.preprocessing
        if isinstance(item, PHOTO_TYPES):
            name = str(item) if not isinstance(item, bytes) else "image"
            item = open_photo(item, name=name, min_side=decode_side([self._loaded]))
        if isinstance(item, Image.Image):
            return [model_view(item, pre, self.crop)]
        x = as_numpy(item, "images")
        if x.ndim == 2 or (x.ndim == 3 and x.shape[2] in (1, 3) and x.shape[0] == x.shape[1]):
            x = x[None]  # one image, (H, W) or (H, W, C): a batch of one; other 3-D arrays are (N, H, W)
        x = to_nchw(x, "images")  # (N, C, H, W) uint8; checks dtype, range and layout in one line
        c, size = pre["in_chans"], pre["img_size"]
        if x.shape[1:] == (c, size, size):
            return [im[0] if c == 1 else im.transpose(1, 2, 0) for im in x]  # (H, W) or (H, W, 3), as PIL gives
        return [model_view(Image.fromarray(im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)), pre, self.crop)
                for im in x]

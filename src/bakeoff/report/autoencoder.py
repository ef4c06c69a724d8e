"""An autoencoder run's own blocks: its linear probe against PCA, and three figures drawn from autoencoder.npz.

The engine saves arrays, not pictures (analysis/autoencoder_views.py), so the report draws them here
with the rest of its figures and a run copied without the file still reports, with a note.
"""
from __future__ import annotations

import numpy as np

from .. import files
from ..store import runfolder
from ..store.comparison import Run, UNREADABLE_NPZ
from ..store.leaderboard import pct
from . import figures
from .blocks import Figure, Text

IMAGE_KEYS = ("images", "reconstructions", "noisy", "denoised")  # (n, H, W) grey or (n, H, W, 3) RGB, 0..1
MAP_KEYS = ("codes_xy", "pca_xy", "map_labels")  # (m, 2), (m, 2) t-SNE coordinates; (m,) class indices


def autoencoder_blocks(run: Run, name: str, classes: list[str]) -> list:
    """The probe accuracies of codes and PCA components, then the reconstructions, denoising and latent map."""
    m = run.metrics
    if "probe_ae_acc" not in m:
        return []
    out = [Text(f"Linear classifier on the {m['probe_dim']}-number codes: {pct(m['probe_ae_acc'])}% test accuracy; "
                f"on {m['pca_components']} PCA components of the pixels: {pct(m['probe_pca_acc'])}% (both trained on "
                f"{m['probe_train_images']:,} training images). Seed 001 chose an autoencoder over PCA because PCA is "
                f"linear; this is the measurement.")]
    path = run.dir / runfolder.AUTOENCODER_FILE
    if not path.is_file():  # e.g. a run folder copied without it: the rest of the report stands
        return out + [Text(f"No autoencoder figures: the run folder has no {path.name}.", "note")]
    try:
        arrays = read_autoencoder_arrays(path, len(classes))
    except UNREADABLE_NPZ as e:
        return out + [Text(f"No autoencoder figures: {path.name} is unreadable ({type(e).__name__}: {e}).", "note")]
    model = run.config["model"]
    out.append(Figure(f"{name}_reconstructions", figures.reconstructions(
        model, arrays["images"], arrays["reconstructions"], m["test_recon_mse"], m["pca_recon_mse"],
        m["pca_components"]), "Test images and their reconstructions"))
    out.append(Figure(f"{name}_denoised", figures.denoised(
        model, arrays["images"], arrays["noisy"], arrays["denoised"], m["noise_shown"], m.get("denoise") or 0.0),
        "Noisy test images and what the autoencoder makes of them"))
    out.append(Figure(f"{name}_latent_map", figures.latent_map(
        arrays["codes_xy"], arrays["pca_xy"], arrays["map_labels"], classes, m["probe_dim"], m["pca_components"],
        m["probe_ae_acc"], m["probe_pca_acc"]),
        "2-D map (t-SNE) of the codes of test images beside the same map of as many PCA components, "
        "coloured by class"))
    return out


def read_autoencoder_arrays(path, num_classes: int) -> dict[str, np.ndarray]:
    """autoencoder.npz's arrays, checked for the shapes the figures draw; ValueError names what is wrong."""
    arrays = files.read_arrays(path, IMAGE_KEYS + MAP_KEYS)
    shape = arrays["images"].shape
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] != 3) or not len(arrays["images"]):
        raise ValueError(f"images of shape {shape}, not (n, H, W) or (n, H, W, 3)")
    for key in IMAGE_KEYS[1:]:
        if arrays[key].shape != shape:
            raise ValueError(f"{key} of shape {arrays[key].shape}, images {shape}")
    labels = arrays["map_labels"]
    for key in ("codes_xy", "pca_xy"):
        if arrays[key].shape != (len(labels), 2):
            raise ValueError(f"{key} of shape {arrays[key].shape}, not ({len(labels)}, 2)")
    if labels.size and not (labels.dtype.kind in "iu" and 0 <= labels.min() and labels.max() < num_classes):
        raise ValueError(f"map_labels are not class indices 0..{num_classes - 1}")
    return arrays

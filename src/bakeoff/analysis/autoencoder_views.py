"""What a trained autoencoder shows without labels: numbers for metrics.json and the arrays the report draws.

A linear classifier on the codes is compared with one on as many PCA components (seed 001 chose an
autoencoder over PCA because PCA is linear; this measures it), and so are their reconstruction errors.
The report draws (report/figures.py) from autoencoder.npz in the run folder: test images with their
reconstructions, noisy test images with what the autoencoder makes of them, and t-SNE maps of the codes
beside the PCA components. All use the final encoder: the one reconstruction trained, unless metrics.json
says `finetune_kept` (then its codes have seen labels, and the decoder, not fine-tuned, reconstructs less well).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..engine.device import autocast
from ..engine.epoch import Split
from ..engine.features import eval_batch_size, extract_features
from ..engine.objectives import Noise

SHOW_SIGMA = 0.3  # noise for the denoising figure when training used none (0..1 pixel scale)
SHOW_IMAGES = 10  # test images per figure row
MAP_POINTS = 1000  # test images in the 2-D maps: t-SNE on 1,000 points takes seconds
MIN_TSNE_POINTS = 5  # t-SNE needs a perplexity (>= 2 here) below the number of points
PROBE_TRAIN = 10_000  # training images for the linear probes and the PCA they are compared with


def autoencoder_views(model: nn.Module, cfg, mean: list[float], std: list[float], train: Split, test: Split,
                      device, precision) -> tuple[dict, dict[str, np.ndarray]]:
    """(metrics for metrics.json, arrays for autoencoder.npz); images in the arrays are 0..1 pixels."""
    from sklearn.decomposition import PCA

    model.eval()
    gen = torch.Generator().manual_seed(cfg.seed)
    probe_idx = torch.randperm(len(train), generator=gen)[:PROBE_TRAIN]
    x_fit, y_fit = train.x[probe_idx], train.y[probe_idx].cpu().numpy()
    codes_fit = extract_features(model, x_fit, device, precision).flatten(1).cpu().numpy()
    codes_test = extract_features(model, test.x, device, precision).flatten(1).cpu().numpy()
    pixels_fit = x_fit.flatten(1).float().cpu().numpy()
    pixels_test = test.x.flatten(1).float().cpu().numpy()
    k = min(codes_fit.shape[1], *pixels_fit.shape)
    pca = PCA(n_components=k, random_state=cfg.seed).fit(pixels_fit)
    pca_test = pca.transform(pixels_test)
    y_test = test.y.cpu().numpy()
    sigma = cfg.denoise or SHOW_SIGMA
    metrics = {
        "test_recon_mse": _recon_mse(model, test, device, precision),  # per pixel, standardized units, clean inputs
        # the same with as many PCA components as the code has numbers
        "pca_recon_mse": float(np.mean((pca.inverse_transform(pca_test) - pixels_test) ** 2)),
        "probe_dim": int(codes_fit.shape[1]), "pca_components": int(k), "probe_train_images": len(y_fit),
        "probe_ae_acc": linear_probe(codes_fit, y_fit, codes_test, y_test, cfg.seed),
        "probe_pca_acc": linear_probe(pca.transform(pixels_fit), y_fit, pca_test, y_test, cfg.seed),
        "noise_shown": sigma,  # the noise of the denoising figure's middle row
    }
    show = _show_indices(y_test, SHOW_IMAGES)
    x_show = test.x[show]
    noisy = Noise(sigma, mean, std, device)(x_show, torch.Generator(device=device).manual_seed(cfg.seed))
    with torch.no_grad(), autocast(device, precision):
        recon = model.reconstruct(x_show).float()
        cleaned = model.reconstruct(noisy).float()
    to_pixels = _Pixels(mean, std)
    pick = torch.randperm(len(y_test), generator=gen)[:MAP_POINTS].numpy()
    arrays = {"images": to_pixels(x_show), "reconstructions": to_pixels(recon), "noisy": to_pixels(noisy),
              "denoised": to_pixels(cleaned), "map_labels": y_test[pick].astype(np.int64),
              "codes_xy": tsne_2d(codes_test[pick], cfg.seed), "pca_xy": tsne_2d(pca_test[pick], cfg.seed)}
    return metrics, arrays


def _recon_mse(model: nn.Module, split: Split, device, precision) -> float:
    total = 0.0
    with torch.no_grad():
        batch = eval_batch_size(split.x, model)
        for i in range(0, len(split), batch):
            x = split.x[i:i + batch]
            with autocast(device, precision):
                out = model.reconstruct(x)
            total += F.mse_loss(out.float(), x, reduction="sum").item()
    return total / split.x.numel()


def linear_probe(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int) -> float:
    """Test accuracy of a multinomial logistic regression on standardized features."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 300 lbfgs steps: within 0.1% of converged
        clf.fit(x_fit, y_fit)
    return float(clf.score(x_test, y_test))


def tsne_2d(features: np.ndarray, seed: int) -> np.ndarray:
    """(N, D) -> (N, 2) float32 t-SNE coordinates; a row of points when there are too few for t-SNE, or when
    every point is the same (a collapsed autoencoder: sklearn's t-SNE crashes the process on those)."""
    from sklearn.manifold import TSNE

    flat = not np.isfinite(features).all() or np.ptp(features, axis=0).max(initial=0) < 1e-6
    if len(features) < MIN_TSNE_POINTS or flat:  # a test split of two images must not lose the trained run here
        return np.stack([np.arange(len(features)), np.zeros(len(features))], axis=1).astype(np.float32)
    perplexity = max(2.0, min(30.0, (len(features) - 1) / 3))  # t-SNE needs perplexity < number of points
    tsne = TSNE(2, perplexity=perplexity, init="pca", max_iter=500, random_state=seed)  # 500: half the
    return tsne.fit_transform(features.astype(np.float32)).astype(np.float32)  # default's time; clusters have formed


def _show_indices(y: np.ndarray, n: int) -> torch.Tensor:
    """The first test image of each class, then the next ones, up to n: every class shows where it can."""
    firsts = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)][:n]
    taken = set(firsts)
    rest = [i for i in range(len(y)) if i not in taken][:n - len(firsts)]
    return torch.tensor(sorted(firsts + rest))


class _Pixels:
    """Standardized (B, C, H, W) -> displayable (B, H, W[, 3]) float32 in 0..1."""

    def __init__(self, mean: list[float], std: list[float]):
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        x = (x.float().cpu() * self.std + self.mean).clamp(0, 1)
        return x[:, 0].numpy() if x.shape[1] == 1 else x.permute(0, 2, 3, 1).numpy()

"""The autoencoder's training in stages, and what it shows without labels.

Stages, each `cfg.epochs` long, each keeping its lowest-validation-loss weights:
  reconstruct  encoder + decoder minimise the MSE between the decoded image and the (standardized) input;
               with --denoise SIGMA the encoder sees the image plus Gaussian noise of std SIGMA on the
               0..1 pixel scale (clipped to 0..1), the target stays clean: a denoising autoencoder.
  classify     the dense classifier on the frozen encoder's codes (cached, see transfer.fit_frozen).
  finetune     with --finetune-blocks N: the last N encoder blocks and the classifier together, the blocks
               at lr x --backbone-lr-scale (N >= 4: end to end). Kept only if its best validation loss
               beats the classify stage's.
history.csv numbers the epochs of all stages in one sequence; its `stage` column names each row's stage.
In reconstruct rows the losses are MSE and the accuracies empty.

Afterwards, in the run folder: reconstructions.png, denoised.png, latent_map.png (t-SNE of the codes
beside t-SNE of as many PCA components, test images coloured by class), and in metrics.json a linear
classifier on the codes against one on the same number of PCA components (seed 001 chose an autoencoder
over PCA because PCA is linear; this measures it). All use the final encoder: the one reconstruction
trained, unless metrics.json says `finetune_kept` (then its codes have seen labels, and the decoder,
not fine-tuned, reconstructs less well).
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import interrupt
from .augment import Augment, flip_suits
from .device import autocast
from .loop import EVAL_BATCH, FitResult, Split
from .optim import build_optimizer, build_schedule
from .progress import EpochProgress
from .transfer import extract_features, fit_finetune, fit_frozen

SHOW_SIGMA = 0.3  # noise for denoised.png when training used none (0..1 pixel scale)
SHOW_IMAGES = 10  # test images per figure row
MAP_POINTS = 1000  # test images in the 2-D maps: t-SNE on 1,000 points takes seconds
PROBE_TRAIN = 10_000  # training images for the linear probes and the PCA they are compared with


# ---- training -----------------------------------------------------------------------------------------------

def fit_autoencoder(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, *, mean: list[float],
                    std: list[float], on_epoch=None, quiet: bool = False) -> tuple[FitResult, dict]:
    """Reconstruct, then classify on the frozen encoder, then (with --finetune-blocks) fine-tune; see above."""
    rows: list[dict] = []
    noise = Noise(cfg.denoise, mean, std, device)
    start = time.perf_counter()
    recon_images = fit_reconstruction(model, train, val, cfg, device, precision, noise, rows, on_epoch, quiet)
    recon_seconds = time.perf_counter() - start

    offset = len(rows)
    classify, info = fit_frozen(model, train, val, cfg, device, precision, stage="classify", quiet=quiet,
                                on_epoch=_continued(rows, offset, on_epoch))
    rows[offset:] = _shift(classify.history, offset)
    best_epoch, best_loss, stopped = offset + classify.best_epoch, _val_loss(classify), classify.stopped_early
    images = len(train) * len(classify.history)
    if cfg.finetune_blocks:
        kept = copy.deepcopy(model.state_dict())
        offset = len(rows)
        tuned, tuned_info = fit_finetune(model, train, val, cfg, device, precision, quiet=quiet,
                                         on_epoch=_continued(rows, offset, on_epoch))
        rows[offset:] = _shift(tuned.history, offset)
        images += len(train) * len(tuned.history)
        info.update({k: v for k, v in tuned_info.items() if k != "trainable_params"})
        info["finetune_kept"] = _val_loss(tuned) <= best_loss
        if info["finetune_kept"]:
            best_epoch, stopped = offset + tuned.best_epoch, tuned.stopped_early
        else:
            model.load_state_dict(kept)  # fine-tuning did not help on validation data
    supervised_seconds = sum(r["seconds"] for r in rows if r["stage"] != "reconstruct")
    info.update({"reconstruct_epochs": sum(r["stage"] == "reconstruct" for r in rows),
                 "reconstruct_seconds": recon_seconds, "denoise": cfg.denoise})
    per_s = (recon_images + images) / max(recon_seconds + supervised_seconds, 1e-9)
    return FitResult(rows, best_epoch, stopped, per_s, 0), info


def _val_loss(result: FitResult) -> float:
    v = result.history[result.best_epoch - 1]["val_loss"]
    return v if v is not None and math.isfinite(v) else -result.best_epoch


def _shift(history: list[dict], offset: int) -> list[dict]:
    return [{**r, "epoch": r["epoch"] + offset} for r in history]


def _continued(rows: list[dict], offset: int, on_epoch):
    """An on_epoch for a later stage: its rows numbered after the earlier stages', reported with them."""
    if on_epoch is None:
        return None

    def call(history: list[dict]) -> None:
        on_epoch(rows[:offset] + _shift(history, offset))

    return call


class Noise:
    """Gaussian noise of std `sigma` on the 0..1 pixel scale, applied to standardized images, then clipped to 0..1."""

    def __init__(self, sigma: float, mean: list[float], std: list[float], device: torch.device):
        s = torch.tensor(std, device=device).view(1, -1, 1, 1)
        m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.sigma = sigma
        self.scale = sigma / s  # (1, C, 1, 1) std in standardized units
        self.low, self.high = (0 - m) / s, (1 - m) / s  # where 0 and 1 land after standardization

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.sigma == 0:
            return x
        n = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        return torch.maximum(torch.minimum(x + n * self.scale, self.high), self.low)


def fit_reconstruction(model: nn.Module, train: Split, val: Split | None, cfg, device, precision, noise: Noise,
                       rows: list[dict], on_epoch, quiet: bool) -> int:
    """Stage 1: minimise the reconstruction MSE; appends history rows, restores the best epoch's weights.

    Returns the number of training images processed.
    """
    classifier = {id(p) for p in _classifier_params(model)}
    params = [p for p in model.parameters() if id(p) not in classifier]  # encoder and decoder
    optimizer = build_optimizer(params, cfg)
    steps = math.ceil(len(train) / cfg.batch_size)
    schedule = build_schedule(optimizer, cfg, steps)
    augment = Augment(train.x.shape[-1], flip=flip_suits(cfg.dataset), seed=cfg.seed) if cfg.augment else None
    order_gen = torch.Generator().manual_seed(cfg.seed)
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    progress = EpochProgress(quiet=quiet, label=f"{cfg.run_id} reconstruct")
    best_loss, best_state, since_best = math.inf, None, 0
    for epoch in range(1, cfg.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        progress.start(epoch, cfg.epochs, steps)
        try:
            tr_loss, tr_seconds = _reconstruct_epoch(model, train, cfg.batch_size, device, precision, noise, noise_gen,
                                                     optimizer, schedule, augment, order_gen, progress)
        finally:
            progress.stop()
        va_loss, va_seconds = math.nan, 0.0
        if val is not None and len(val):
            val_gen = torch.Generator(device=device).manual_seed(cfg.seed + 2)  # the same noise every epoch
            with torch.no_grad():
                va_loss, va_seconds = _reconstruct_epoch(model, val, EVAL_BATCH, device, precision, noise, val_gen)
        if not math.isfinite(tr_loss):
            from .loop import Diverged

            raise Diverged(f"reconstruction loss became {tr_loss} (try a lower --lr)")
        rows.append({"epoch": epoch, "train_loss": tr_loss, "train_acc": math.nan, "val_loss": va_loss,
                     "val_acc": math.nan, "lr": lr, "seconds": tr_seconds + va_seconds, "stage": "reconstruct"})
        if on_epoch is not None:
            on_epoch(list(rows))
        score = va_loss if math.isfinite(va_loss) else -epoch
        if score < best_loss:
            best_loss, best_state, since_best = score, copy.deepcopy(model.state_dict()), 0
        else:
            since_best += 1
            if cfg.patience is not None and since_best >= cfg.patience:
                break
    model.load_state_dict(best_state)
    return len(train) * len(rows)


def _classifier_params(model: nn.Module) -> list[nn.Parameter]:
    return list(model.pre_logits.parameters()) + list(model.get_classifier().parameters())


def _reconstruct_epoch(model, split: Split, batch_size: int, device, precision, noise: Noise, noise_gen,
                       optimizer=None, schedule=None, augment=None, order_gen=None,
                       progress=None) -> tuple[float, float]:
    """One pass of reconstruction; trains when an optimizer is given. Returns (mean MSE per pixel, seconds)."""
    training = optimizer is not None
    model.train(training)
    n = len(split)
    order = torch.randperm(n, generator=order_gen).to(device) if training else torch.arange(n, device=device)
    total = torch.zeros((), device=device, dtype=torch.float64)
    start = time.perf_counter()
    steps = math.ceil(n / batch_size)
    for step in range(steps):
        x = split.x[order[step * batch_size:(step + 1) * batch_size]]
        if augment is not None:
            x = augment(x)
        with autocast(device, precision):
            out = model.reconstruct(noise(x, noise_gen))
        loss = F.mse_loss(out.float(), x)
        if training:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            interrupt.check()
        total += loss.detach() * len(x)
        if progress is not None and (step % 10 == 0 or step == steps - 1):
            seen = min((step + 1) * batch_size, n)
            progress.update(step + 1, total.item() / seen, math.nan)
    return total.item() / n, time.perf_counter() - start


# ---- what it shows without labels ---------------------------------------------------------------------------

def unsupervised_outputs(model: nn.Module, cfg, mean: list[float], std: list[float], classes: list[str],
                         train: Split, test: Split, run_dir: Path, device, precision) -> dict:
    """Figures in `run_dir` and the autoencoder-vs-PCA numbers for metrics.json."""
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
    recon_mse = _recon_mse(model, test, device, precision)
    pca_mse = float(np.mean((pca.inverse_transform(pca_test) - pixels_test) ** 2))
    metrics = {
        "test_recon_mse": recon_mse,  # per pixel, standardized units, clean inputs
        "pca_recon_mse": pca_mse,  # the same with as many PCA components as the code has numbers
        "probe_dim": int(codes_fit.shape[1]), "pca_components": int(k), "probe_train_images": len(y_fit),
        "probe_ae_acc": _linear_probe(codes_fit, y_fit, codes_test, y_test, cfg.seed),
        "probe_pca_acc": _linear_probe(pca.transform(pixels_fit), y_fit, pca_test, y_test, cfg.seed),
    }
    show = _show_indices(y_test, SHOW_IMAGES)
    x_show = test.x[show]
    with torch.no_grad(), autocast(device, precision):
        recon = model.reconstruct(x_show).float()
    sigma = cfg.denoise or SHOW_SIGMA
    noisy = Noise(sigma, mean, std, device)(x_show, torch.Generator(device=device).manual_seed(cfg.seed))
    with torch.no_grad(), autocast(device, precision):
        cleaned = model.reconstruct(noisy).float()
    to_pixels = _Pixels(mean, std)
    _image_rows(run_dir / "reconstructions.png", [("test image", x_show), ("reconstruction", recon)], to_pixels,
                f"{cfg.model}: test images and their reconstructions (MSE {recon_mse:.3f}, PCA-{k} {pca_mse:.3f})")
    trained = f"trained with noise {cfg.denoise:g}" if cfg.denoise else "trained without noise"
    _image_rows(run_dir / "denoised.png", [("clean", x_show), (f"noise {sigma:g}", noisy), ("output", cleaned)],
                to_pixels, f"{cfg.model} ({trained}) on noisy test images")
    pick = torch.randperm(len(y_test), generator=gen)[:MAP_POINTS].numpy()
    _latent_maps(run_dir / "latent_map.png", codes_test[pick], pca_test[pick], y_test[pick], classes, cfg.seed, metrics)
    return metrics


def _recon_mse(model: nn.Module, split: Split, device, precision) -> float:
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(split), EVAL_BATCH):
            x = split.x[i:i + EVAL_BATCH]
            with autocast(device, precision):
                out = model.reconstruct(x)
            total += F.mse_loss(out.float(), x, reduction="sum").item()
    return total / split.x.numel()


def _linear_probe(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int) -> float:
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


def _show_indices(y: np.ndarray, n: int) -> torch.Tensor:
    """The first test image of each class, then the next ones, up to n: every class shows where it can."""
    firsts = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)][:n]
    taken = set(firsts)
    rest = [i for i in range(len(y)) if i not in taken][:n - len(firsts)]
    return torch.tensor(sorted(firsts + rest))


class _Pixels:
    """Standardized (B, C, H, W) -> displayable (B, H, W[, 3]) in 0..1."""

    def __init__(self, mean: list[float], std: list[float]):
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        x = (x.float().cpu() * self.std + self.mean).clamp(0, 1)
        return x[:, 0].numpy() if x.shape[1] == 1 else x.permute(0, 2, 3, 1).numpy()


def _image_rows(path: Path, rows: list[tuple[str, torch.Tensor]], to_pixels: _Pixels, title: str) -> None:
    """One labelled row of images per entry, tiled into a single picture (one imshow: fast to draw)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pad = 2
    tiles = [to_pixels(images) for _, images in rows]  # each (n, H, W) or (n, H, W, 3) in 0..1
    n, h, w = tiles[0].shape[:3]
    sheet = np.ones((len(rows) * (h + pad) + pad, n * (w + pad) + pad, *tiles[0].shape[3:]), dtype=np.float32)
    for r, row in enumerate(tiles):
        for c, img in enumerate(row):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            sheet[top:top + h, left:left + w] = img
    fig, ax = plt.subplots(figsize=(1.1 * n + 1.2, 1.1 * len(rows) + 0.5))
    ax.imshow(sheet, cmap="gray" if sheet.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(len(rows))], [label for label, _ in rows], fontsize=8)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _latent_maps(path: Path, codes: np.ndarray, components: np.ndarray, y: np.ndarray, classes: list[str],
                 seed: int, metrics: dict) -> None:
    """t-SNE of the autoencoder's codes beside t-SNE of the PCA components, one colour per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    perplexity = max(2.0, min(30.0, (len(y) - 1) / 3))  # t-SNE needs perplexity < number of points
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for ax, feats, name, key in ((axes[0], codes, "autoencoder codes", "probe_ae_acc"),
                                 (axes[1], components, "PCA components", "probe_pca_acc")):
        tsne = TSNE(2, perplexity=perplexity, init="pca", max_iter=500, random_state=seed)  # 500: half the
        xy = tsne.fit_transform(feats.astype(np.float32))  # default's time; the clusters have formed by then
        for c in np.unique(y):
            mask = y == c
            ax.scatter(xy[mask, 0], xy[mask, 1], s=4, color=cmap(int(c) % cmap.N), label=classes[int(c)])
        ax.set_title(f"t-SNE of {feats.shape[1]} {name} (linear probe {100 * metrics[key]:.1f}%)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[:20], labels[:20], loc="lower center", ncol=min(10, len(labels)), fontsize=7,
               markerscale=3, frameon=False)
    fig.suptitle(f"{len(y)} test images coloured by class", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""The report's pictures, drawn with matplotlib's object API on the Agg canvas and returned as PNG bytes.

No pyplot: figures are plain objects, freed when dropped, and no global backend
is switched under a caller's notebook.
"""
from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MultipleLocator, PercentFormatter

DPI = 90  # sharp on screen at ~100 KB per chart; the whole report stays a few MB
RIGHT, WRONG = "#1a7f37", "#cf222e"  # GitHub's green and red: titles of correct and wrong predictions
CURVE_METRICS = [("train_acc", "train accuracy"), ("val_acc", "validation accuracy"),
                 ("train_loss", "train loss"), ("val_loss", "validation loss")]


def plain_text():
    """While drawing the report: text is drawn as written. Class names, dataset paths and run ids come from
    the user's files, and matplotlib would read `$...$` in them as mathtext (and fail on a lone `$x`)."""
    from matplotlib import rc_context

    return rc_context({"text.parse_math": False})


def png(fig: Figure, tight: bool = False) -> bytes:
    """PNG bytes; `tight` crops to the drawn content (one more draw) for figures without a layout engine."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight" if tight else None, metadata={"Software": None})
    return buf.getvalue()


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _series(histories: list[list[dict]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Epochs and the mean, min and max of `key` over runs (runs may stop at different epochs)."""
    length = max((len(h) for h in histories), default=0)
    table = np.full((len(histories), length), np.nan)
    for i, h in enumerate(histories):
        for j, row in enumerate(h):
            if row.get(key) is not None:
                table[i, j] = row[key]
    keep = ~np.all(np.isnan(table), axis=0)
    epochs = np.arange(1, length + 1)[keep]
    table = table[:, keep]
    with np.errstate(all="ignore"):
        return epochs, np.nanmean(table, 0), np.nanmin(table, 0), np.nanmax(table, 0)


def _epoch_axis(ax, epochs: int) -> None:
    """Whole epochs only, with room either side (a 1-epoch run is one point, not a 0.95..1.05 axis)."""
    ax.set_xlim(0.7, max(epochs, 1) + 0.3)
    ax.xaxis.set_major_locator(MultipleLocator(max(1, math.ceil(epochs / 10))))


def learning_curves(groups: list[tuple[str, list[list[dict]]]]) -> bytes:
    """One panel per metric, one line per group (mean over its seeds, band from min to max)."""
    fig = Figure(figsize=(11, 7.2))
    axes = fig.subplots(2, 2, sharex=True)
    colors = _colors(len(groups))
    for ax, (key, title) in zip(axes.flat, CURVE_METRICS):
        for color, (label, histories) in zip(colors, groups):
            epochs, mean, lo, hi = _series(histories, key)
            if not len(epochs):
                continue
            scale = 100 if key.endswith("acc") else 1
            ax.plot(epochs, scale * mean, marker="o", ms=3, color=color, label=label)
            if len(histories) > 1:
                ax.fill_between(epochs, scale * lo, scale * hi, color=color, alpha=0.15, lw=0)
        ax.set_title(title)
        ax.set_ylabel("accuracy (%)" if key.endswith("acc") else "cross-entropy loss")
        _epoch_axis(ax, max((len(h) for _, hs in groups for h in hs), default=1))
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), frameon=False)
    fig.set_layout_engine("constrained")
    return png(fig)


def run_curves(runs: list[tuple[str, list[dict], int | None]]) -> bytes:
    """A row per run: accuracy and loss, train dashed and validation solid, the kept epoch dotted."""
    fig = Figure(figsize=(10, 2.3 * len(runs) + 0.4))
    # One y scale per column: SGD at 10% must not look like Adam at 90% (every run's accuracy on the same axis)
    axes = np.atleast_2d(fig.subplots(len(runs), 2, squeeze=False, sharey="col"))
    for (label, history, best_epoch), (ax_acc, ax_loss) in zip(runs, axes):
        for ax, metric, scale in ((ax_acc, "acc", 100), (ax_loss, "loss", 1)):
            for split, style in (("train", "--"), ("val", "-")):
                xs = [r["epoch"] for r in history if r.get(f"{split}_{metric}") is not None]
                ys = [scale * r[f"{split}_{metric}"] for r in history if r.get(f"{split}_{metric}") is not None]
                if xs:
                    ax.plot(xs, ys, style, marker="o", ms=3, label="train" if split == "train" else "validation")
            if best_epoch:
                ax.axvline(best_epoch, color="grey", ls=":", lw=1)
            ax.set_ylabel("accuracy (%)" if metric == "acc" else "loss")
            _epoch_axis(ax, len(history))
            ax.grid(alpha=0.3)
            ax.set_title(f"{label}: {'accuracy' if metric == 'acc' else 'loss'}", fontsize=9)
        ax_acc.legend(fontsize=8, loc="lower right")
    for ax in axes[-1]:
        ax.set_xlabel("epoch (dotted: the checkpoint kept, lowest validation loss)")
    fig.set_layout_engine("constrained")
    return png(fig)


def heatmaps(panels: list[tuple[str, list[str], list[str], np.ndarray]]) -> bytes:
    """Validation accuracy per optimizer (rows) x learning rate (columns), one panel per model; NaN = failed."""
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 0.5 * max(len(p[1]) for p in panels) * nrows + 1.6 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    finite = np.concatenate([p[3][np.isfinite(p[3])].ravel() for p in panels] + [np.array([])])
    vmin, vmax = (100 * finite.min(), 100 * finite.max()) if finite.size else (0, 100)
    for ax, (title, rows, cols, values) in zip(axes.flat, panels):
        shown = np.ma.masked_invalid(100 * values)
        image = ax.imshow(shown, cmap="viridis", vmin=vmin, vmax=max(vmax, vmin + 1e-6), aspect="auto")
        ax.set_facecolor("#d0d0d0")
        for i in range(len(rows)):
            for j in range(len(cols)):
                v = values[i, j]
                text = "failed" if not np.isfinite(v) else f"{100 * v:.1f}"
                light = np.isfinite(v) and 100 * v < (vmin + vmax) / 2
                ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if light else "black")
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel("learning rate")
        ax.set_title(title)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes, label="validation accuracy (%)", shrink=0.8)
    fig.set_layout_engine("constrained")
    return png(fig)


def cost_accuracy(points: list[dict]) -> bytes:
    """Test accuracy against inference ms per image and against parameters; Pareto front joined in red.

    Each point: label, acc, std (or None), infer_ms, params, front_infer, front_params (bools).
    """
    fig = Figure(figsize=(11, 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, cost, flag, xlabel in ((axes[0], "infer_ms", "front_infer", "inference time per image (ms, log scale)"),
                                   (axes[1], "params", "front_params", "parameters (log scale)")):
        for p in points:
            ax.errorbar(p[cost], 100 * p["acc"], yerr=100 * p["std"] if p.get("std") else None, fmt="o",
                        color="#1f6feb" if p[flag] else "#8c959f", ms=6, capsize=3)
            ax.annotate(p["label"], (p[cost], 100 * p["acc"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
        front = sorted((p for p in points if p[flag]), key=lambda p: p[cost])
        if front:
            ax.plot([p[cost] for p in front], [100 * p["acc"] for p in front], "-", color=WRONG, lw=1.2,
                    label="Pareto front (nothing is cheaper and more accurate)")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(HumanLogFormatter(labelOnlyBase=False))
        ax.xaxis.set_minor_formatter(HumanLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
        ax.margins(0.12)  # room for the points at the edges and their labels
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].set_title("accuracy vs inference time")
    axes[1].set_title("accuracy vs model size")
    fig.set_layout_engine("constrained")
    return png(fig)


def _human(v: float) -> str:
    """Tick labels: 0.004, 0.1, 12, 168k, 29.3M."""
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


class HumanLogFormatter(LogFormatter):
    """matplotlib's choice of which log ticks to label (minor ones too on a narrow range), written plainly."""

    def _num_to_string(self, x, vmin, vmax):
        return _human(x)


def confusion_matrix(cm: np.ndarray, classes: list[str], title: str) -> bytes:
    """Row-normalized confusion matrix (each true class sums to 100%), counts in the cells when they fit."""
    k = len(classes)
    rows = cm.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(rows > 0, cm / np.maximum(rows, 1), 0.0)
    side = min(11, max(4.5, 0.55 * k + 2))
    fig = Figure(figsize=(side, side))  # no layout engine: savefig's tight box takes in the labels
    ax = fig.subplots()
    image = ax.imshow(100 * norm, cmap="Blues", vmin=0, vmax=100)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if round(100 * norm[i, j]) >= 1:  # a "0" in a cell says less than leaving it blank
                    ax.text(j, i, f"{100 * norm[i, j]:.0f}", ha="center", va="center", fontsize=8,
                            color="white" if norm[i, j] > 0.5 else "black")
    ticks = range(k)
    ax.set_xticks(ticks, classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right" if
                  max(map(len, classes)) > 2 else "center", fontsize=8)
    ax.set_yticks(ticks, classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    # fraction/pad: the classic setting that gives a square axes a colour bar of its own height, right beside it
    fig.colorbar(image, ax=ax, label="% of the true class", format=PercentFormatter(decimals=0),
                 fraction=0.046, pad=0.04)
    return png(fig, tight=True)


def to_display(img: np.ndarray) -> np.ndarray:
    """uint8 (C, H, W) -> (H, W, 3) RGB; one channel becomes grey, other counts show their first channel."""
    if img.shape[0] == 3:
        return img.transpose(1, 2, 0)
    return np.repeat(img[0][:, :, None], 3, axis=2)


def _tile_scale(side: int) -> int:
    """Nearest-neighbour upscaling so a tile is about 90 px: 8 px digits x11, 28 px MNIST x3, 32 px CIFAR x3."""
    return max(1, round(TILE_PX / side))


TILE_PX = 90  # on-screen side of one image in the grids
LINE_PX = 12  # one caption line at 7.5 pt and the report's DPI


def _canvas(width: int, height: int) -> tuple[Figure, object]:
    """A figure exactly width x height pixels with one axes whose data units are those pixels (y down)."""
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    return fig, ax


def image_grid(images: np.ndarray, titles: list[str], colors: list[str], title: str, ncols: int = 8) -> bytes:
    """Images with a coloured caption each (green right, red wrong), drawn as one mosaic: fast for any count.

    One imshow and a text per image, instead of an axes per image (~40 ms each), keeps
    a 30-image grid at ~0.1 s.
    """
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    side = max(images.shape[2], images.shape[3])
    scale = _tile_scale(side)
    tile_h, tile_w = images.shape[2] * scale, images.shape[3] * scale
    lines = max(t.count("\n") + 1 for t in titles)
    cell_w = max(tile_w, 110) + 8
    cell_h = tile_h + LINE_PX * lines + 10
    head = 30
    width, height = max(ncols * cell_w, 8 * len(title) + 20), head + nrows * cell_h  # ~8 px a title character:
    left = (width - ncols * cell_w) // 2  # a grid of one or two images is centred under its whole title
    mosaic = np.full((height, width, 3), 255, np.uint8)
    fig, ax = _canvas(width, height)
    for k, (img, text, color) in enumerate(zip(images, titles, colors)):
        r, c = divmod(k, ncols)
        x0 = left + c * cell_w + (cell_w - tile_w) // 2
        y0 = head + r * cell_h + LINE_PX * lines + 6
        tile = to_display(img).repeat(scale, 0).repeat(scale, 1)
        mosaic[y0:y0 + tile_h, x0:x0 + tile_w] = tile
        ax.text(left + c * cell_w + cell_w / 2, y0 - 3, text, color=color, fontsize=7.5, ha="center", va="bottom",
                linespacing=1.15)
    ax.imshow(mosaic, interpolation="nearest", extent=(0, width, height, 0))
    ax.text(width / 2, head / 2, title, fontsize=11, ha="center", va="center")
    return png(fig)


def class_samples(rows: list[tuple[str, np.ndarray]]) -> bytes:
    """A strip of training images per class, the class name on its left, drawn as one mosaic."""
    return image_rows(rows, tile_px=40)  # small tiles: the strip sits beside two tables


def image_rows(rows: list[tuple[str, np.ndarray]], title: str = "", tile_px: int = TILE_PX) -> bytes:
    """Rows of uint8 (N, C, H, W) images, each row's label on its left, drawn as one mosaic under a title."""
    per_row = max(len(imgs) for _, imgs in rows)
    first = rows[0][1]
    scale = max(1, round(tile_px / max(first.shape[2], first.shape[3])))
    tile_h, tile_w = first.shape[2] * scale, first.shape[3] * scale
    label_w, gap = max(90, 7 * max(len(name) for name, _ in rows) + 12), 3  # ~7 px a character at 9 pt
    head = 30 if title else 0
    content = label_w + per_row * (tile_w + gap)
    width = max(content, 8 * len(title) + 20)  # ~8 px a character at 11 pt: the title is never cut
    left = (width - content) // 2  # the rows centred under a wider title
    height = head + len(rows) * (tile_h + gap) + gap
    mosaic = np.full((height, width, 3), 255, np.uint8)
    fig, ax = _canvas(width, height)
    for r, (name, imgs) in enumerate(rows):
        y0 = head + gap + r * (tile_h + gap)
        for c, img in enumerate(imgs):
            x0 = left + label_w + c * (tile_w + gap)
            mosaic[y0:y0 + tile_h, x0:x0 + tile_w] = to_display(img).repeat(scale, 0).repeat(scale, 1)
        ax.text(left + label_w - 8, y0 + tile_h / 2, name, fontsize=9, ha="right", va="center")
    ax.imshow(mosaic, interpolation="nearest", extent=(0, width, height, 0))
    if title:
        ax.text(width / 2, head / 2, title, fontsize=11, ha="center", va="center")
    return png(fig)


# --- the autoencoder's pictures, from the arrays of its run folder's autoencoder.npz -------------------------

def _pixels(images: np.ndarray) -> np.ndarray:
    """0..1 floats, (N, H, W) grey or (N, H, W, 3) RGB -> uint8 (N, C, H, W), as the mosaics take images."""
    x = np.clip(np.rint(np.asarray(images, np.float32) * 255), 0, 255).astype(np.uint8)
    return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)


def reconstructions(model: str, images: np.ndarray, recons: np.ndarray, mse: float, pca_mse: float,
                    pca_components: int) -> bytes:
    """Test images above their reconstructions; the title gives both reconstruction errors (MSE, standardized)."""
    title = f"{model}: test images and their reconstructions (MSE {mse:.3f}, PCA-{pca_components} {pca_mse:.3f})"
    return image_rows([("test image", _pixels(images)), ("reconstruction", _pixels(recons))], title)


def denoised(model: str, clean: np.ndarray, noisy: np.ndarray, output: np.ndarray, sigma: float,
             denoise: float) -> bytes:
    """Clean test images, the same with noise of std `sigma`, and what the autoencoder makes of the noisy ones."""
    trained = f"trained with noise {denoise:g}" if denoise else "trained without noise"
    rows = [("clean", _pixels(clean)), (f"noise {sigma:g}", _pixels(noisy)), ("output", _pixels(output))]
    return image_rows(rows, f"{model} ({trained}) on noisy test images")


def latent_map(codes_xy: np.ndarray, pca_xy: np.ndarray, labels: np.ndarray, classes: list[str], code_dim: int,
               pca_components: int, probe_ae_acc: float, probe_pca_acc: float) -> bytes:
    """t-SNE maps (M, 2) of the codes and of as many PCA components side by side, points coloured by class."""
    fig = Figure(figsize=(11, 5))
    axes = fig.subplots(1, 2)
    colors = _colors(len(classes))
    panels = ((codes_xy, f"t-SNE of {code_dim} autoencoder codes (linear probe {100 * probe_ae_acc:.1f}%)"),
              (pca_xy, f"t-SNE of {pca_components} PCA components (linear probe {100 * probe_pca_acc:.1f}%)"))
    for ax, (xy, title) in zip(axes, panels):
        for k, name in enumerate(classes):
            mine = labels == k
            if mine.any():
                ax.scatter(xy[mine, 0], xy[mine, 1], s=8, color=colors[k], linewidths=0, label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])  # t-SNE coordinates have no unit: only who is near whom means something
        ax.set_yticks([])
    handles, names = axes[0].get_legend_handles_labels()
    if handles:  # one legend for both panels: the points are the same images
        fig.legend(handles, names, loc="outside right upper", frameon=False, fontsize=8, markerscale=2,
                   ncols=math.ceil(len(names) / 25))
    fig.suptitle(f"{len(labels)} test images coloured by class")
    fig.set_layout_engine("constrained")
    return png(fig)

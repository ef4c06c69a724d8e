"""Pictures of why one model wins: reliability diagrams, accuracy under corruption, Grad-CAM maps.

Drawn like figures.py (object API, Agg canvas, PNG bytes), from the numbers analysis/finished.py left in the run folders.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .figures import _canvas, _colors, LINE_PX, png, RIGHT, to_display, WRONG

SEVERITY_TICKS = ["clean", "1", "2", "3"]


def reliability_all(curves: list[tuple[str, dict, dict]]) -> bytes:
    """Every model on one chart: accuracy against confidence per bin, before and after temperature scaling.

    Each curve: (label, bins before, bins after), bins as calibration.json holds them (count, confidence, accuracy).
    """
    fig = Figure(figsize=(11, 4.8))
    axes = fig.subplots(1, 2, sharey=True)
    colors = _colors(len(curves))
    for ax, which, title in ((axes[0], 1, "as trained"), (axes[1], 2, "after temperature scaling")):
        _diagonal(ax)
        for color, curve in zip(colors, curves):
            bins = curve[which]
            xs, ys, sizes = _points(bins)
            ax.plot(xs, ys, "-", color=color, lw=1.4, label=curve[0])
            ax.scatter(xs, ys, s=sizes, color=color, zorder=3, linewidths=0)
        ax.set_title(f"reliability, {title}")
        ax.set_xlabel("confidence: the top class's probability (%)")
    axes[0].set_ylabel("accuracy of the images at that confidence (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(5, len(labels)), frameon=False)
    fig.set_layout_engine("constrained")
    return png(fig)


def reliability_per_model(panels: list[tuple[str, dict, dict, float, float, float]]) -> bytes:
    """A reliability diagram per model: bars of accuracy per confidence bin as trained, the line after scaling.

    Each panel: (label, bins before, bins after, ECE before, ECE after, temperature).
    """
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(3.9 * ncols, 3.6 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for ax, (label, before, after, ece, ece_after, t) in zip(axes.flat, panels):
        n_bins = len(before["count"])
        width = 100 / n_bins
        centres = (np.arange(n_bins) + 0.5) * width
        acc = [100 * a if a is not None else 0 for a in before["accuracy"]]
        ax.bar(centres, acc, width=width * 0.95, color="#1f6feb", alpha=0.75, label="as trained")
        gaps = [(c, 100 * a, 100 * k) for c, a, k in zip(centres, before["accuracy"], before["confidence"])
                if a is not None]
        for c, a, k in gaps:  # the gap to perfect calibration, hatched
            ax.bar(c, k - a, bottom=a, width=width * 0.95, color="none", edgecolor=WRONG, hatch="///", lw=0)
        xs, ys, _ = _points(after)
        ax.plot(xs, ys, "o-", color="#bf8700", ms=3, lw=1.4, label="after scaling")
        _diagonal(ax)
        ax.set_title(f"{label}\nECE {100 * ece:.1f}% -> {100 * ece_after:.1f}% (T = {t:.2f})", fontsize=9)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("confidence (%)")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    fig.set_layout_engine("constrained")
    return png(fig)


def _diagonal(ax) -> None:
    ax.plot([0, 100], [0, 100], ":", color="grey", lw=1)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)


def _points(bins: dict) -> tuple[list[float], list[float], list[float]]:
    """The non-empty bins as percent (confidence, accuracy) and a marker area that grows with the bin's share."""
    total = max(1, sum(bins["count"]))
    kept = [(100 * c, 100 * a, n) for n, c, a in zip(bins["count"], bins["confidence"], bins["accuracy"]) if n]
    return [k[0] for k in kept], [k[1] for k in kept], [8 + 120 * k[2] / total for k in kept]


def robustness_curves(models: list[tuple[str, float, dict[str, list[float]]]]) -> bytes:
    """Accuracy against severity: the mean over corruptions, then one panel per corruption, a line per model.

    Each model: (label, clean accuracy, {corruption: [accuracy at severity 1, 2, 3]}).
    """
    corruptions = list(models[0][2])
    names = ["mean of all"] + corruptions
    ncols = 4
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(12, 2.9 * nrows + 0.7))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    colors = _colors(len(models))
    for ax, name in zip(axes.flat, names):
        for color, (label, clean, table) in zip(colors, models):
            accs = np.mean([table[c] for c in corruptions], axis=0) if name == "mean of all" else table[name]
            ax.plot(range(4), [100 * clean] + [100 * a for a in accs], "o-", ms=3, color=color, label=label)
        ax.set_title(name.replace("_", " "), fontsize=10)
        ax.set_xticks(range(4), SEVERITY_TICKS)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    for ax in axes[-1]:
        ax.set_xlabel("severity")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(5, len(labels)), frameon=False)
    fig.set_layout_engine("constrained")
    return png(fig)


CAM_TILE_PX = 84  # side of one image in the Grad-CAM grid
LABEL_PX = 150  # the model names on the left


def cam_grid(images: np.ndarray, true_labels: list[str], rows: list[tuple[str, np.ndarray, list[str], list[bool]]],
             title: str) -> bytes:
    """The test images on top, then a row per model: its map over each image, captioned with its prediction.

    `images` uint8 (M, C, H, W); each row: (label, maps (M, H, W) in 0..1, predicted class names, right or not).
    """
    from matplotlib import colormaps

    heat = colormaps["jet"]
    m = len(images)
    scale = max(1, round(CAM_TILE_PX / max(images.shape[2], images.shape[3])))
    tile_h, tile_w = images.shape[2] * scale, images.shape[3] * scale
    cell_w, cell_h = max(tile_w, 80) + 6, tile_h + LINE_PX + 8
    head = 30
    width = max(LABEL_PX + m * cell_w, 8 * len(title) + 20)  # ~8 px a character at 11 pt: the title is never cut
    height = head + (1 + len(rows)) * cell_h
    mosaic = np.full((height, width, 3), 255, np.uint8)
    fig, ax = _canvas(width, height)
    shown = [to_display(img).repeat(scale, 0).repeat(scale, 1) for img in images]  # (h, w, 3) uint8
    grey = [s.astype(np.float32).mean(axis=2, keepdims=True) / 255 for s in shown]
    for r in range(1 + len(rows)):
        y0 = head + r * cell_h + LINE_PX + 4
        for k in range(m):
            x0 = LABEL_PX + k * cell_w + (cell_w - tile_w) // 2
            if r == 0:
                tile, caption, color = shown[k], f"true: {true_labels[k]}", "black"
            else:
                _, maps, preds, right = rows[r - 1]
                cam = np.asarray(maps[k], np.float32).repeat(scale, 0).repeat(scale, 1)
                overlay = 0.45 * grey[k] + 0.55 * heat(cam)[:, :, :3]
                tile, caption = (overlay * 255).astype(np.uint8), preds[k]
                color = RIGHT if right[k] else WRONG
            mosaic[y0:y0 + tile_h, x0:x0 + tile_w] = tile
            ax.text(x0 + tile_w / 2, y0 - 3, _short(caption, 16), color=color, fontsize=7.5, ha="center",
                    va="bottom")
        label = "test image" if r == 0 else rows[r - 1][0]
        ax.text(LABEL_PX - 8, y0 + tile_h / 2, _short(label, 22), fontsize=8.5, ha="right", va="center")
    ax.imshow(mosaic, interpolation="nearest", extent=(0, width, height, 0))
    ax.text(width / 2, head / 2, title, fontsize=11, ha="center", va="center")
    return png(fig)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"

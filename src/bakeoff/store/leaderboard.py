"""The leaderboard: one row per configuration (a run id less its seed and fold), replicates aggregated, sorted by
validation accuracy.

Ties on validation accuracy (common on small validation sets: 142 digits images, one image is 0.7 points) go
to the lower validation loss, then the model name and the row id: the test split never orders anything.
"""
from __future__ import annotations

import csv
import io
import math
import re
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..config import RunConfig
from ..errors import BakeoffError
from ..files import atomic_write_text

COLUMNS = ["model", "optimizer", "lr", "augment", "n_seeds", "train_acc", "val_acc", "val_loss", "test_acc_mean",
           "test_acc_std", "real_acc_mean", "real_acc_std", "photo_val_acc", "test_loss", "ece", "ece_calibrated",
           "corrupted_acc", "corruption_drop", "params", "mflops", "train_seconds",
           "seconds_per_epoch", "images_per_s", "train_gflops_per_s", "peak_memory_mb", "infer_ms", "n_val", "seeds", "failed"]
REAL_COLUMNS = ("real_acc_mean", "real_acc_std", "photo_val_acc")  # accuracy on real photos: a folder scored
# (--real-photos), and the held-out fifth of --train-photos; shown only where measured
# Means over seeds of these metrics.json fields.
AVERAGED = ["train_acc", "val_acc", "val_loss", "test_loss", "train_seconds", "seconds_per_epoch", "images_per_s",
            "train_gflops_per_s", "peak_memory_mb", "infer_ms",
            "photo_val_acc",  # --train-photos: the held-out photos (data/photos/training.py)
            "ece", "ece_calibrated", "corrupted_acc", "corruption_drop"]  # analysis/finished.py: after training, from best.pt
ROW_KEY = ("model", "optimizer", "lr", "augment")  # shown first; a row's identity is its row_id
# Options besides those that may differ between rows (grid axes, a mixed line-up's transfer options): each one that
# does gets a column after `augment`, in this order.
OPTION_COLUMNS = ("epochs", "batch_size", "schedule", "weight_decay", "label_smoothing", "momentum", "nesterov",
                  "patience", "tta", "progressive_resize", "whiten_stem", "photo_augment", "pretrained", "freeze",
                  "finetune_blocks", "backbone_lr_scale", "latent_dim", "denoise", "time_budget", "tune",
                  "train_photos")


def row_key(config_or_row: dict) -> str:
    """The leaderboard row a run is a replicate (seed, fold) of: its run id less those, from a config or a row."""
    if "row_id" in config_or_row:
        return config_or_row["row_id"]

    try:
        return RunConfig.from_dict(config_or_row).row_id
    except (BakeoffError, TypeError, ValueError):  # a config this version cannot read: its basic coordinates
        return "_".join(str(config_or_row.get(k)) for k in ROW_KEY)


def budget(cfg: dict) -> str:
    """What bounded a run's training, for the leaderboard: '10 epochs', 'time 60 s', 'tune 12 + 10 epochs'."""
    text = f"time {cfg['time_budget']:g} s" if cfg.get("time_budget") else f"{cfg.get('epochs')} epochs"
    return f"tune {cfg['tune']} + {text}" if cfg.get("tune") else text


def build_leaderboard(runs: list[tuple[dict, dict]]) -> list[dict]:
    """Aggregate (config, metrics) pairs over seeds and folds; rows sorted by mean validation accuracy, best first."""
    groups: dict[str, list[tuple[dict, dict]]] = {}
    for cfg, metrics in runs:
        groups.setdefault(row_key(cfg), []).append((cfg, metrics))
    varying = [k for k in OPTION_COLUMNS if len({repr(cfg.get(k)) for cfg, _ in runs}) > 1]
    rows = []
    for key, members in groups.items():
        done = [m for _, m in members if m.get("status") == "finished"]
        failed = [m for _, m in members if m.get("status") != "finished"]
        cfg = members[0][0]
        row = {**{k: cfg.get(k) for k in ROW_KEY}, **{k: cfg.get(k) for k in varying}, "row_id": key,
               "budget": budget(cfg), "n_seeds": len(done),
               "seeds": ";".join(_replicate(c) for c, m in members if m.get("status") == "finished"),
               "failed": "; ".join(f"seed {m['seed']}: {m.get('reason', 'failed')}" for m in failed)}
        if done:
            accs = [m["test_acc"] for m in done]
            row["test_acc_mean"] = statistics.fmean(accs)
            row["test_acc_std"] = statistics.stdev(accs) if len(accs) > 1 else None  # sample std over seeds
            for k in AVERAGED:
                vals = [m[k] for m in done if m.get(k) is not None]
                row[k] = statistics.fmean(vals) if vals else None
            real = [m["real_acc"] for m in done if m.get("real_acc") is not None]
            if real:
                row["real_acc_mean"] = statistics.fmean(real)
                row["real_acc_std"] = statistics.stdev(real) if len(real) > 1 else None
            predicted = [m["test_classes_predicted"] for m in done if m.get("test_classes_predicted") is not None]
            row["test_classes_predicted"] = min(predicted) if predicted else None  # the replicate that learned least
            row["n_val"] = done[0].get("n_val")
            row["params"] = done[0]["params"]
            row["mflops"] = done[0]["mflops"]
        rows.append(row)
    rows.sort(key=lambda r: (r.get("val_acc") is None, -(r.get("val_acc") or 0), _or_inf(r.get("val_loss")),
                             str(r["model"]), str(r["optimizer"]), float(r["lr"]), bool(r["augment"]), r["row_id"]))
    return rows


def columns_of(rows: list[dict]) -> list[str]:
    """leaderboard.csv's columns: COLUMNS, with the options that differ between rows after `augment`."""
    options = [k for k in OPTION_COLUMNS if any(k in r for r in rows)]
    at = COLUMNS.index("augment") + 1
    return COLUMNS[:at] + options + COLUMNS[at:] + ["budget", "row_id"]


def validation_resolution(rows: list[dict]) -> str | None:
    """A warning when the validation split is too small to tell the two best rows apart, else None.

    The smallest difference it resolves: 1.96 standard errors of a difference of two accuracies near theirs,
    each measured on n_val images per replicate (normal approximation; the paired test in the report is sharper).
    """
    done = [r for r in rows if r.get("val_acc") is not None and r.get("n_val")]
    if len(done) < 2:
        return None
    a, b = done[0], done[1]
    n = a["n_val"] * max(a.get("n_seeds") or 1, 1)  # replicates validate on their own splits
    p = min(max((a["val_acc"] + b["val_acc"]) / 2, 1 / n), 1 - 1 / n)
    resolvable = 1.96 * math.sqrt(2 * p * (1 - p) / n)
    gap = a["val_acc"] - b["val_acc"]
    if gap >= resolvable:
        return None
    name_a, name_b = _told_apart(a, b)
    return (f"validation cannot separate the two best rows ({name_a} and {name_b}: {100 * gap:.2f} points "
            f"apart on {a['n_val']} validation images, one image = {100 / a['n_val']:.2f} points); differences under "
            f"about {100 * resolvable:.1f} points are within chance here. More validation data, --folds K or more "
            f"seeds would tell them apart.")


def one_class_warnings(rows: list[dict]) -> list[str]:
    """A line for each row some replicate of which gave every test image the same class: its accuracy is the share
    of that class, not anything learned. Says so; chooses and orders nothing."""
    return [f"{r['row_id']} predicted one class for every test image"
            f"{f' (in at least one of its {n} runs)' if (n := r['n_seeds']) > 1 else ''}: its "
            f"{pct(r['test_acc_mean'])}% is that class's share of the test set, not something learned; try a lower "
            f"--lr, more epochs, or a model that pools globally"
            for r in rows if r.get("test_classes_predicted") == 1]


def _told_apart(a: dict, b: dict) -> tuple[str, str]:
    """Two rows named by their model and whatever else differs between them ('autoencoder' twice says nothing
    in a sweep of one model): ('autoencoder rmsprop lr 0.0001', 'autoencoder adam lr 0.001')."""
    differ = [k for k in ("optimizer", "lr", "augment", *OPTION_COLUMNS) if a.get(k) != b.get(k)]
    return tuple(" ".join([str(r["model"])] + [f"{k.replace('_', ' ')} {fmt(k, r.get(k))}".replace("optimizer ", "")
                                               for k in differ]) for r in (a, b))


def _replicate(cfg: dict) -> str:
    """A run's place among its row's replicates: its seed, and its fold under --folds ('0', '0/fold2')."""
    return f"{cfg.get('seed')}/fold{cfg.get('fold')}" if cfg.get("folds") else str(cfg.get("seed"))


def _or_inf(value: float | None) -> float:
    return float("inf") if value is None else value


def pct(value: float | None) -> str:
    """A fraction as percent with two decimals: 0.98765 -> '98.77' ('' when missing)."""
    return "" if value is None else f"{100 * value:.2f}"


def _sig3(value: float) -> str:
    """Three significant figures without an exponent: 0.0123, 58.6, 4,110."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


# How each column is shown wherever a leaderboard is (leaderboard.md, the console table, the report);
# leaderboard.csv keeps the raw numbers. Decimals follow each unit's useful precision.
FORMATS = {
    "lr": lambda v: f"{v:g}",
    "weight_decay": lambda v: f"{v:g}", "label_smoothing": lambda v: f"{v:g}", "momentum": lambda v: f"{v:g}",
    "time_budget": lambda v: f"{v:g} s",
    "augment": lambda v: "on" if v else "off",
    "train_acc": pct, "val_acc": pct, "test_acc_mean": pct, "test_acc_std": pct, "real_acc_mean": pct,
    "real_acc_std": pct, "photo_val_acc": pct,
    "test_loss": lambda v: f"{v:.4f}",
    "val_loss": lambda v: f"{v:.4f}",
    "params": lambda v: f"{v:,}",
    "mflops": _sig3,
    "train_seconds": lambda v: f"{v:.1f}",
    "seconds_per_epoch": lambda v: f"{v:.2f}",
    "images_per_s": lambda v: f"{v:,.0f}",
    "train_gflops_per_s": lambda v: f"{v:,.1f}",
    "peak_memory_mb": lambda v: f"{v:,.0f}",
    "infer_ms": lambda v: f"{v:.4f}",
    "ece": pct, "ece_calibrated": pct, "corrupted_acc": pct, "corruption_drop": pct,  # in percent, like accuracies
}


def fmt(key: str, value) -> str:
    """One leaderboard value as text ('' when missing); other columns (model, seeds, failed) as they are."""
    if value is None or value == "":
        return ""
    return FORMATS[key](value) if key in FORMATS else str(value)


def _failure_lines(rows: list[dict]) -> list[str]:
    return [f"{r['model']} {r['optimizer']} lr={fmt('lr', r['lr'])}: {r['failed']}" for r in rows if r.get("failed")]


def write_leaderboard(rows: list[dict], out: Path) -> None:
    """OUT/leaderboard.csv (raw numbers, accuracies as fractions) and OUT/leaderboard.md (percentages)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns_of(rows), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "leaderboard.csv", buf.getvalue())
    head = [c for c in shown_columns(rows, columns_of(rows)) if c not in ("failed", "row_id")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(fmt(c, r.get(c)) for c in head) + " |")
    failures = [f"- {line}" for line in _failure_lines(rows)]
    text = "Accuracies in percent; test accuracy is the mean (and sample std) over seeds.\n\n" + "\n".join(lines) + "\n"
    if failures:
        text += "\nFailed runs:\n" + "\n".join(failures) + "\n"
    atomic_write_text(out / "leaderboard.md", text)


def shown_columns(rows: list[dict], columns: list[str] = COLUMNS) -> list[str]:
    """The columns worth showing: the real-photo ones only where some row has them, the budget where one is not
    plain epochs."""
    real = {c for c in REAL_COLUMNS if any(r.get(c) is not None for r in rows)}
    real |= {"real_acc_std"} if "real_acc_mean" in real else set()
    budgets = any(not re.fullmatch(r"\d+ epochs", str(r.get("budget", ""))) for r in rows)
    return [c for c in columns if (c in real or c not in REAL_COLUMNS) and (budgets or c != "budget")]


# The terminal table: SHORT fits 80 columns for a plain comparison (grid axes that do not vary are said once
# below it instead); --wide shows every column, as leaderboard.md does.
SHORT = ["model", "optimizer", "lr", "augment", "budget", "n_seeds", "val_acc", "test_acc_mean", "test_acc_std",
         "real_acc_mean", "photo_val_acc", "ece", "corrupted_acc", "train_seconds"]
WIDE = ["model", "optimizer", "lr", "augment", "budget", "n_seeds", "val_acc", "test_acc_mean", "test_acc_std",
        "real_acc_mean", "real_acc_std", "photo_val_acc", "ece", "ece_calibrated", "corrupted_acc", "corruption_drop",
        "params",
        "mflops", "train_seconds", "images_per_s", "train_gflops_per_s", "peak_memory_mb", "infer_ms"]
HEADERS = {"n_seeds": "seeds", "val_acc": "val", "test_acc_mean": "test", "test_acc_std": "±std",
           "real_acc_mean": "real", "real_acc_std": "±std", "photo_val_acc": "photo_val", "ece": "ECE", "ece_calibrated": "ECE_T",
           "corrupted_acc": "corrupt", "corruption_drop": "drop", "train_seconds": "train_s", "images_per_s": "img/s",
           "train_gflops_per_s": "GFLOP/s", "peak_memory_mb": "peak_MB"}


def print_leaderboard(rows: list[dict], title: str, console: Console | None = None, wide: bool = False) -> None:
    """The leaderboard as a terminal table, accuracies and ECE in percent; `wide`: every column (--wide)."""
    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # a pipe or log file: never truncate the numbers
    table = Table(title=title)
    options = [c for c in columns_of(rows) if c in OPTION_COLUMNS]
    columns = WIDE if wide else SHORT
    at = columns.index("augment") + 1
    shown = shown_columns(rows, columns[:at] + options + columns[at:])
    same = [] if wide or len(rows) < 2 else [c for c in ("optimizer", "lr", "augment")
                                              if len({fmt(c, r.get(c)) for r in rows}) == 1]
    shown = [c for c in shown if c not in same]
    names = max((len(str(r.get("model", ""))) for r in rows), default=5)
    for c in shown:
        table.add_column(HEADERS.get(c, c), justify="left" if c in ("model", "optimizer") else "right",
                         no_wrap=c == "model", min_width=names if c == "model" else None)  # names are never cut
    for r in rows:
        table.add_row(*(fmt(c, r.get(c)) for c in shown))
    # As wide as the columns need (a terminal wraps longer lines): no name or number is ever cut to '…'
    console.width = max(console.width, console.measure(table, options=console.options.update_width(10_000)).maximum)
    console.print(table)
    note = ", ".join(f"{c} {fmt(c, rows[0].get(c))}" for c in same)
    said = ([f"Every row: {note}."] if note else []) + ([] if wide else ["--wide shows every column."])
    if said:
        console.print(" ".join(said), style="dim")
    for line in _failure_lines(rows):
        console.print(f"[red]failed[/red] {line}")

"""The leaderboard: one row per (model, optimizer, lr, augment), seeds aggregated, sorted by validation accuracy.

Ties on validation accuracy (common on small validation sets: 142 digits images, one image is 0.7 points) go
to the lower validation loss, then the model name: the test split never orders anything.
"""
from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .runfolder import atomic_write_text

COLUMNS = ["model", "optimizer", "lr", "augment", "n_seeds", "train_acc", "val_acc", "val_loss", "test_acc_mean",
           "test_acc_std", "real_acc_mean", "real_acc_std", "test_loss", "params", "mflops", "train_seconds",
           "seconds_per_epoch", "images_per_s", "train_gflops_per_s", "peak_memory_mb", "infer_ms", "seeds", "failed"]
REAL_COLUMNS = ("real_acc_mean", "real_acc_std")  # accuracy on a folder of real photos (--real-photos), when scored
# Means over seeds of these metrics.json fields.
AVERAGED = ["train_acc", "val_acc", "val_loss", "test_loss", "train_seconds", "seconds_per_epoch", "images_per_s",
            "train_gflops_per_s", "peak_memory_mb", "infer_ms"]
ROW_KEY = ("model", "optimizer", "lr", "augment")  # a row's identity; its runs differ only in the seed


def row_key(config_or_row: dict) -> tuple:
    """The leaderboard row a run is a seed of, from a run's config or from a row: (model, optimizer, lr, augment)."""
    return tuple(config_or_row[k] for k in ROW_KEY)


def build_leaderboard(runs: list[tuple[dict, dict]]) -> list[dict]:
    """Aggregate (config, metrics) pairs over seeds; rows sorted by mean validation accuracy, best first."""
    groups: dict[tuple, list[tuple[dict, dict]]] = {}
    for cfg, metrics in runs:
        groups.setdefault(row_key(cfg), []).append((cfg, metrics))
    rows = []
    for key, members in groups.items():
        done = [m for _, m in members if m.get("status") == "finished"]
        failed = [m for _, m in members if m.get("status") != "finished"]
        row = {**dict(zip(ROW_KEY, key)), "n_seeds": len(done),
               "seeds": ";".join(str(m["seed"]) for m in done),
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
            row["params"] = done[0]["params"]
            row["mflops"] = done[0]["mflops"]
        rows.append(row)
    rows.sort(key=lambda r: (r.get("val_acc") is None, -(r.get("val_acc") or 0), _or_inf(r.get("val_loss")),
                             str(r["model"]), str(r["optimizer"]), float(r["lr"]), bool(r["augment"])))
    return rows


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
    "augment": lambda v: "on" if v else "off",
    "train_acc": pct, "val_acc": pct, "test_acc_mean": pct, "test_acc_std": pct, "real_acc_mean": pct,
    "real_acc_std": pct,
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
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "leaderboard.csv", buf.getvalue())
    head = [c for c in shown_columns(rows) if c != "failed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(fmt(c, r.get(c)) for c in head) + " |")
    failures = [f"- {line}" for line in _failure_lines(rows)]
    text = "Accuracies in percent; test accuracy is the mean (and sample std) over seeds.\n\n" + "\n".join(lines) + "\n"
    if failures:
        text += "\nFailed runs:\n" + "\n".join(failures) + "\n"
    atomic_write_text(out / "leaderboard.md", text)


def shown_columns(rows: list[dict], columns: list[str] = COLUMNS) -> list[str]:
    """The columns worth showing: the real-photo ones only where some row has them."""
    real = any(r.get("real_acc_mean") is not None for r in rows)
    return [c for c in columns if real or c not in REAL_COLUMNS]


def print_leaderboard(rows: list[dict], title: str, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # a pipe or log file: never truncate the numbers
    table = Table(title=title)
    shown = shown_columns(rows, ["model", "optimizer", "lr", "augment", "n_seeds", "val_acc", "test_acc_mean",
                                 "test_acc_std", "real_acc_mean", "real_acc_std", "params", "mflops", "train_seconds",
                                 "images_per_s", "train_gflops_per_s", "peak_memory_mb", "infer_ms"])
    headers = {"test_acc_mean": "test_acc", "test_acc_std": "±std", "real_acc_mean": "real_acc", "real_acc_std": "±std",
               "train_seconds": "train_s", "images_per_s": "img/s", "train_gflops_per_s": "GFLOP/s",
               "peak_memory_mb": "peak_MB"}
    for c in shown:
        table.add_column(headers.get(c, c), justify="left" if c in ("model", "optimizer") else "right")
    for r in rows:
        table.add_row(*(fmt(c, r.get(c)) for c in shown))
    console.print(table)
    for line in _failure_lines(rows):
        console.print(f"[red]failed[/red] {line}")

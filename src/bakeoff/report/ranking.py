"""Section 2, the leaderboard: one row per configuration, the best value of each column highlighted; what each
configuration cost in a second table beside it."""
from __future__ import annotations

from ..store.comparison import Comparison
from ..store.leaderboard import (
    OPTION_COLUMNS,
    fmt,
    shown_columns,
    validation_resolution,
)
from .blocks import Cell, cell, Section, Table, Text

# (key, header, which way is better: "max", "min" or None for no highlight); values as leaderboard.fmt writes them
LEADERBOARD = [
    ("model", "model", None),
    ("optimizer", "optimizer", None),
    ("lr", "lr", None),
    ("augment", "augment", None),
    ("n_seeds", "seeds", None),
    ("val_acc", "val acc (%)", "max"),
    ("test_acc_mean", "test acc (%)", "max"),
    ("real_acc_mean", "real photos acc (%)", "max"),  # only where --real-photos scored the runs
    ("photo_val_acc", "held-out train photos acc (%)", "max"),  # only under --train-photos
    ("test_loss", "test loss", "min"),
    ("ece", "ECE (%)", "min"),  # calibration (analysis/finished.py): 0 when confidence matches accuracy
    ("ece_calibrated", "ECE after T (%)", "min"),  # after temperature scaling fitted on validation
    ("corrupted_acc", "corrupted acc (%)", "max"),  # mean over 7 corruptions x 3 severities
    ("corruption_drop", "drop (%)", "min"),  # 1 - corrupted / clean accuracy, same images
    ("train_acc", "train acc (%)", None),  # higher is not better here: it can be overfitting
    ("params", "params", "min"),
    ("mflops", "MFLOPs / image", "min"),
    ("train_seconds", "train time (s)", "min"),
    ("seconds_per_epoch", "s / epoch", "min"),
    ("images_per_s", "train img/s", "max"),
    ("train_gflops_per_s", "train GFLOP/s", "max"),
    ("peak_memory_mb", "peak memory (MB)", "min"),
    ("infer_ms", "infer ms / image", "min"),
    ("failed", "failed runs", None),
]


# What a run costs: the second table, so the leaderboard itself fits a laptop screen (1,366 px) unscrolled.
COST = ("params", "mflops", "train_seconds", "seconds_per_epoch", "images_per_s", "train_gflops_per_s",
        "peak_memory_mb", "infer_ms")
IDENTITY = ("model", "optimizer", "lr", "augment", "n_seeds")


def columns_for(rows: list[dict], part: str = "quality") -> list[tuple]:
    """The columns of the leaderboard table (`part` 'quality') or of the cost table ('cost') for these rows:
    the measured-when-asked ones (WHEN_MEASURED) only where some row has them; after `augment`, the options
    that differ between rows, and the budget where it is not plain epochs."""
    wanted = [c for c in LEADERBOARD if c[0] in IDENTITY or (c[0] in COST) == (part == "cost")]
    columns = [c for c in wanted if c[0] not in WHEN_MEASURED or any(r.get(c[0]) not in (None, "") for r in rows)]
    at = [c[0] for c in columns].index("augment") + 1
    options = [(k, k.replace("_", " "), None) for k in OPTION_COLUMNS if any(k in r for r in rows)]
    if "budget" in shown_columns(rows, ["budget"]):
        options.append(("budget", "budget", None))
    return columns[:at] + options + columns[at:]


# Columns shown only where some row has them. Calibration and robustness columns always show (empty where a run
# predates them or --no-robustness skipped it): every comparison measures them unless told not to.
WHEN_MEASURED = ("real_acc_mean", "photo_val_acc", "failed")  # failed runs: also listed with their reasons below the table


def leaderboard(cmp: Comparison) -> Section:
    """The leaderboard table (sortable in the page), what its numbers mean, and the runs that failed."""
    rows = cmp.rows
    finished = [r for r in rows if r.get("n_seeds", 0) > 0]
    blocks = [_table(rows, finished, columns_for(finished), "leaderboard-table",
                     "Click a column header to sort; the best value of each column is highlighted. What each "
                     "configuration cost is in the next table."),
              _table(rows, finished, columns_for(finished, "cost"), "leaderboard-cost",
                     "What each configuration cost, in the leaderboard's order: size, compute, time and memory.")]
    notes = ["Rows are configurations (model, optimizer, learning rate, augmentation and any other option that "
             "differs); the numbers are means over their seeds (and folds, under --folds). Sorted by validation "
             "accuracy: the test set is for reporting, not for choosing."]
    blocks += _notes(cmp, finished, notes)
    return Section("leaderboard", "Leaderboard", blocks)


def _table(rows: list[dict], finished: list[dict], columns: list[tuple], id: str, caption: str) -> Table:
    """One sortable table of the rows, the best value of each column (among finished rows) highlighted."""
    best = {}
    for key, _, better in columns:
        values = [r[key] for r in finished if r.get(key) is not None]
        if better and len(values) > 1:
            best[key] = max(values) if better == "max" else min(values)
    table_rows = []
    for r in rows:
        cells = []
        for key, _, _ in columns:
            v = r.get(key)
            if v is None or v == "":
                cells.append(Cell("", None))
                continue
            text = fmt(key, v)
            if key in ("test_acc_mean", "real_acc_mean") and r.get(key.replace("mean", "std")) is not None:
                text += f" ± {fmt(key.replace('mean', 'std'), r[key.replace('mean', 'std')])}"
            sort = v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(text)
            cells.append(Cell(text, sort, key in best and v == best[key]))
        table_rows.append(cells)
    return Table([h for _, h, _ in columns], table_rows, id=id, sortable=True, caption=caption)


def _notes(cmp: Comparison, finished: list[dict], notes: list[str]) -> list:
    """What the numbers mean, and warnings: validation too small, run folders left out, failed runs."""
    blocks = []
    if finished and all(r["n_seeds"] < 2 for r in finished):
        notes.append("One seed per configuration, so test accuracy has no ± std (a spread needs two or more seeds; "
                     "run with --seeds 0,1,2 to see how much retraining moves the numbers).")
    else:
        notes.append("Test accuracy: mean ± sample standard deviation over seeds.")
    blocks += [Text(n, "note") for n in notes]
    warning = validation_resolution(finished)
    if warning:
        blocks.append(Text(warning[0].upper() + warning[1:], "warn"))
    if cmp.strays:
        shown = ", ".join(cmp.strays[:5]) + (f" and {len(cmp.strays) - 5} more" if len(cmp.strays) > 5 else "")
        blocks.append(Text(f"{len(cmp.strays)} run folders here are not runs of this comparison's grid and are "
                           f"left out: {shown}. Runs of another comparison belong in their own folder; `bakeoff "
                           f"merge A B --out C` puts comparisons of the same data and split in one leaderboard.",
                           "warn"))
    if cmp.failed_runs:
        blocks.append(failed_runs(cmp))
    return blocks


def failed_runs(cmp: Comparison) -> Table:
    """Each run that did not finish, with its status and the reason its metrics.json gives."""
    return Table(["run", "status", "reason"],
                 [[cell(r.run_id), cell(r.metrics["status"]), cell(r.metrics.get("reason") or "failed")]
                  for r in cmp.failed_runs], id="failed-runs", caption="Failed runs")

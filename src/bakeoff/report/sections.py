"""The comparison-wide sections: summary and dataset card, leaderboard, significance, curves, sweep, cost."""
from __future__ import annotations

from dataclasses import fields

import numpy as np

from ..config import RunConfig
from . import figures
from .blocks import Cell, Details, Figure, Row, Section, Table, Text, cell
from .collect import Comparison, Run
from .stats import ALPHA, paired_test, pareto_front

MAX_SAMPLE_CLASSES = 20  # dataset card: sample strips for at most this many classes
SAMPLES_PER_CLASS = 8


def pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.2f}"


def seconds(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def row_label(cmp: Comparison, row: dict) -> str:
    """A leaderboard row named by the grid axes that vary: 'cnn4', or 'cnn4 · adam · lr 0.001' in a sweep."""
    parts = [row["model"]]
    if cmp.swept("optimizers"):
        parts.append(row["optimizer"])
    if cmp.swept("lrs"):
        parts.append(f"lr {row['lr']:g}")
    if cmp.swept("augment"):
        parts.append("aug" if row["augment"] else "no aug")
    return " · ".join(parts)


# --- 1. summary -------------------------------------------------------------------------------------------------

def summary(cmp: Comparison, ds, ds_note: str) -> list[Section]:
    done = [r for r in cmp.runs if r.finished]
    lines = [Text(f"{len(cmp.runs)} runs of {len(cmp.grid.get('models', []))} models on {cmp.dataset['name']}: "
                  f"{len(done)} finished, {len(cmp.runs) - len(done)} failed.")]
    if cmp.finished_rows:
        best = cmp.finished_rows[0]
        lines.append(Text(f"Best by validation accuracy: {row_label(cmp, best)}, {pct(best['val_acc'])}% on "
                          f"validation and {pct(best['test_acc_mean'])}% on the test set "
                          f"(the test split never chooses a model)."))
    spent = sum(r.metrics.get("train_seconds") or 0 for r in cmp.runs)
    lines.append(Text(f"Total training time: {seconds(spent)} (sum over runs; evaluation and data loading not counted)."))
    setup = Section("setup", "Grid, machine and versions", [Details(
        f"{len(cmp.runs)} runs, every combination of the grid's axes, on {machine_line(cmp)} (click for every setting)",
        [Row([grid_table(cmp), machine_table(cmp)])])], level=3)
    return [Section("summary", "Summary", lines), dataset_card(cmp, ds, ds_note), setup]


def dataset_card(cmp: Comparison, ds, ds_note: str) -> Section:
    d = cmp.dataset
    done = [r for r in cmp.runs if r.finished]
    m = done[0].metrics if done else {}
    cfg = done[0].config if done else cmp.runs[0].config
    c, h, w = d["shape"]
    facts = [("dataset", d["name"]), ("source", d.get("source", "")), ("image shape", f"{c} x {h} x {w} (C x H x W)"),
             ("classes", f"{len(d['classes'])}" + (f": {', '.join(d['classes'])}" if len(d["classes"]) > 20 else "")),
             ("training images available", f"{d['n_train']:,}")]
    if m:
        subset = f" (a stratified subset of {cfg['train_subset']:,})" if cfg.get("train_subset") else ""
        facts += [("train / validation / test", f"{m['n_train']:,} / {m['n_val']:,} / {m['n_test']:,}{subset}")]
    blocks = [kv_table(facts, "The data")]
    counts = class_counts(cmp, ds, done[0] if done else None)
    if counts:
        header, rows = counts
        blocks.append(Table(["class"] + header, [[cell(r[0])] + [cell(f"{v:,}", v) for v in r[1:]] for r in rows],
                            id="class-counts", caption="Images per class"))
    if ds is not None:
        y = ds.y_train.numpy()
        strips = []
        for k, name in enumerate(ds.classes[:MAX_SAMPLE_CLASSES]):
            idx = np.flatnonzero(y == k)[:SAMPLES_PER_CLASS]
            if len(idx):
                strips.append((name, ds.x_train[idx].numpy()))
        if strips:
            blocks.append(Figure("dataset_samples", figures.class_samples(strips),
                                 f"The first {SAMPLES_PER_CLASS} training images of each class"))
    notes = []
    if ds is not None and len(ds.classes) > MAX_SAMPLE_CLASSES:
        notes.append(Text(f"Samples shown for the first {MAX_SAMPLE_CLASSES} of {len(ds.classes)} classes.", "note"))
    if ds is None:
        notes.append(Text(f"No sample images: {ds_note}.", "note"))
    return Section("dataset", "Dataset", [blocks[0], Row(blocks[1:])] + notes, level=3)


def class_counts(cmp: Comparison, ds, run: Run | None) -> tuple[list[str], list[list]] | None:
    """Per class: train / validation of the first finished run's split, and test; test alone without the data."""
    if run is None:
        return None
    k = len(cmp.classes)
    test = np.bincount(run.predictions()["y_true"], minlength=k)
    if ds is None:
        return ["test"], [[name, int(test[i])] for i, name in enumerate(cmp.classes)]
    from ..data import train_val_split

    cfg = run.config
    train_idx, val_idx = train_val_split(ds.y_train, cfg["val_fraction"], cfg["seed"], cfg.get("train_subset"))
    train = np.bincount(ds.y_train[train_idx].numpy(), minlength=k)
    val = np.bincount(ds.y_train[val_idx].numpy(), minlength=k)
    header = [f"train (seed {cfg['seed']} split)", "validation", "test"]
    return header, [[name, int(train[i]), int(val[i]), int(test[i])] for i, name in enumerate(cmp.classes)]


def grid_table(cmp: Comparison) -> Table:
    g = cmp.grid
    facts = [("models", ", ".join(g.get("models", []))), ("optimizers", ", ".join(g.get("optimizers", []))),
             ("learning rates", ", ".join(f"{v:g}" for v in g.get("lrs", []))),
             ("augmentation", ", ".join("on" if a else "off" for a in g.get("augment", []))),
             ("seeds", ", ".join(str(s) for s in g.get("seeds", [])))]
    axes = {"model", "optimizer", "lr", "augment", "seed"}
    configs = [r.config for r in cmp.runs]
    shared = {k: v for k, v in configs[0].items() if k not in axes and all(c.get(k) == v for c in configs)}
    defaults = {f.name: f.default for f in fields(RunConfig)}
    always = ("dataset", "epochs", "batch_size", "val_fraction")
    shown = {k: v for k, v in shared.items() if k in always or k not in defaults or v != defaults[k]}
    facts += [(k.replace("_", " "), "default" if v is None else str(v)) for k, v in shown.items()]
    hidden = len(shared) - len(shown)
    caption = "The grid: its axes, then the shared settings" + (f" ({hidden} more at their defaults)" if hidden else "")
    return kv_table(facts, caption)


def machine_line(cmp: Comparison) -> str:
    v = cmp.versions
    done = [r.metrics for r in cmp.runs if r.finished]
    device = done[0].get("device", "?") if done else "?"
    return f"{device} ({v.get('machine', '?')}, {v.get('threads', '?')} threads), torch {v.get('torch', '?')}"


def machine_table(cmp: Comparison) -> Table:
    done = [r.metrics for r in cmp.runs if r.finished]
    facts = [(k, str(v)) for k, v in cmp.versions.items()]
    for key in ("device", "precision"):
        values = sorted({str(m.get(key)) for m in done if m.get(key)})
        if values:
            facts.append((key, ", ".join(values)))
    return kv_table(facts, "Machine and versions")


def kv_table(facts: list[tuple[str, str]], caption: str) -> Table:
    return Table(["", ""], [[cell(k), cell(v)] for k, v in facts], caption=caption)


# --- 2. leaderboard ---------------------------------------------------------------------------------------------

# (key, header, format, which way is better: "max", "min" or None for no highlight)
LEADERBOARD = [
    ("model", "model", str, None),
    ("optimizer", "optimizer", str, None),
    ("lr", "lr", lambda v: f"{v:g}", None),
    ("augment", "augment", lambda v: "on" if v else "off", None),
    ("n_seeds", "seeds", str, None),
    ("val_acc", "val acc (%)", pct, "max"),
    ("test_acc_mean", "test acc (%)", pct, "max"),
    ("test_loss", "test loss", lambda v: f"{v:.4f}", "min"),
    ("train_acc", "train acc (%)", pct, None),  # higher is not better here: it can be overfitting
    ("params", "params", lambda v: f"{v:,}", "min"),
    ("mflops", "MFLOPs / image", lambda v: f"{v:.3g}", "min"),
    ("train_seconds", "train time (s)", lambda v: f"{v:.1f}", "min"),
    ("seconds_per_epoch", "s / epoch", lambda v: f"{v:.2f}", "min"),
    ("images_per_s", "train img/s", lambda v: f"{v:,.0f}", "max"),
    ("train_gflops_per_s", "train GFLOP/s", lambda v: f"{v:,.1f}", "max"),
    ("peak_memory_mb", "peak memory (MB)", lambda v: f"{v:,.0f}", "min"),
    ("infer_ms", "infer ms / image", lambda v: f"{v:.4f}", "min"),
    ("failed", "failed runs", str, None),
]


def leaderboard(cmp: Comparison) -> Section:
    rows = cmp.rows
    finished = [r for r in rows if r.get("n_seeds", 0) > 0]
    best = {}
    for key, _, _, better in LEADERBOARD:
        values = [r[key] for r in finished if r.get(key) is not None]
        if better and len(values) > 1:
            best[key] = max(values) if better == "max" else min(values)
    table_rows = []
    for r in rows:
        cells = []
        for key, _, fmt, _ in LEADERBOARD:
            v = r.get(key)
            if v is None or v == "":
                cells.append(Cell("", None))
                continue
            text = fmt(v)
            if key == "test_acc_mean" and r.get("test_acc_std") is not None:
                text += f" ± {100 * r['test_acc_std']:.2f}"
            sort = v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(text)
            cells.append(Cell(text, sort, key in best and v == best[key]))
        table_rows.append(cells)
    blocks = [Table([h for _, h, _, _ in LEADERBOARD], table_rows, id="leaderboard", sortable=True,
                    caption="Click a column header to sort; the best value of each column is highlighted.")]
    notes = ["Rows are configurations (model, optimizer, learning rate, augmentation); the numbers are means over "
             "their seeds. Sorted by validation accuracy: the test set is for reporting, not for choosing."]
    if finished and all(r["n_seeds"] < 2 for r in finished):
        notes.append("One seed per configuration, so test accuracy has no ± std (a spread needs two or more seeds; "
                     "run with --seeds 0,1,2 to see how much retraining moves the numbers).")
    else:
        notes.append("Test accuracy: mean ± sample standard deviation over seeds.")
    blocks += [Text(n, "note") for n in notes]
    if cmp.failed_runs:
        blocks.append(failed_runs(cmp))
    return Section("leaderboard", "Leaderboard", blocks)


def failed_runs(cmp: Comparison) -> Table:
    return Table(["run", "status", "reason"],
                 [[cell(r.run_id), cell(r.metrics["status"]), cell(r.metrics.get("reason") or "failed")]
                  for r in cmp.failed_runs], id="failed-runs", caption="Failed runs")


# --- 3. significance --------------------------------------------------------------------------------------------

def significance(cmp: Comparison) -> Section:
    rows = cmp.finished_rows
    blocks: list = []
    if len(rows) < 2:
        blocks.append(Text("Only one configuration finished, so there is nothing to compare it with."))
        return Section("significance", "Is the best model really better?", blocks)
    best = rows[0]
    name = row_label(cmp, best)
    blocks.append(Text(
        f"Each configuration against the best one ({name}), on the same {len(cmp.finished_runs_of(best)[0].correct()):,} "
        f"test images. McNemar's exact test counts only the images exactly one of the two gets right; if the two "
        f"were equally good, those would split 50/50. p < {ALPHA} means a split this uneven is unlikely by chance. "
        f"The interval is a 95% paired bootstrap of the accuracy difference (best minus other)."))
    table_rows, verdicts = [], []
    for other in rows[1:]:
        other_name = row_label(cmp, other)
        tests = []
        for seed in sorted({r.config["seed"] for r in cmp.finished_runs_of(best)}):
            a = cmp.representative(best, seed)
            b = next((r for r in cmp.finished_runs_of(other) if r.config["seed"] == seed), None)
            if a is None or b is None or a.config["seed"] != seed:
                continue
            t = paired_test(a.correct(), b.correct(), seed=seed)
            tests.append(t)
            if not t.significant:
                verdict = "cannot be told apart"
            else:
                verdict = f"{name if t.diff > 0 else other_name} is better"
            table_rows.append([cell(other_name), cell(seed, seed), cell(pct(a.metrics["test_acc"])),
                               cell(pct(b.metrics["test_acc"])),
                               cell(f"{100 * t.diff:+.2f} [{100 * t.ci_low:+.2f}, {100 * t.ci_high:+.2f}]", t.diff),
                               cell(t.only_a, t.only_a), cell(t.only_b, t.only_b),
                               cell(_p(t.p_value), t.p_value), cell(verdict)])
        verdicts.append(_verdict(name, other_name, tests))
    blocks.append(Table(["compared with", "seed", "acc best (%)", "acc other (%)", "difference, points [95% CI]",
                         "only best right", "only other right", "p (McNemar exact)", f"at {ALPHA}"], table_rows,
                        id="significance", sortable=True))
    blocks += [Text(v) for v in verdicts]
    if not cmp.swept("seeds"):
        blocks.append(Text(
            "One seed: these tests say whether the two trained networks differ on these test images. They cannot "
            "say whether training again with another seed would keep the order, because seed-to-seed spread is not "
            "measured; run with --seeds 0,1,2 for that.", "note"))
    else:
        blocks.append(Text("Runs are paired by seed (each seed's two runs on the same test images); the leaderboard's "
                           "± std is the spread across seeds.", "note"))
    if len(rows) > 2:
        blocks.append(Text(f"No correction for multiple comparisons: with many rows, about one comparison in "
                           f"{round(1 / ALPHA)} between equal models looks significant by chance.", "note"))
    return Section("significance", "Is the best model really better?", blocks)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def _verdict(best: str, other: str, tests) -> str:
    if not tests:
        return f"{other}: no seed finished for both, so no paired test."
    wins = sum(t.significant and t.diff > 0 for t in tests)
    losses = sum(t.significant and t.diff < 0 for t in tests)
    n = len(tests)

    def in_seeds(k: int) -> str:
        return "" if n == 1 else f" in {k} of {n} seeds"

    if wins == 0 and losses == 0:
        return (f"{best} and {other} cannot be told apart on this test set "
                f"(p = {_p(min(t.p_value for t in tests))}{'' if n == 1 else ' at best over the seeds'}).")
    parts = []
    if wins:
        parts.append(f"{best} is significantly better than {other}" + in_seeds(wins))
    if losses:
        parts.append(f"{other} is significantly better than {best}" + in_seeds(losses))
    rest = n - wins - losses
    if rest:
        parts.append(f"no significant difference in {rest} of {n} seeds")
    return "; ".join(parts) + "."


# --- 4. learning curves ---------------------------------------------------------------------------------------------

def learning_curves(cmp: Comparison) -> Section:
    best_per_model = _best_row_per_model(cmp)
    if not best_per_model:
        return Section("curves", "Learning curves", [Text("No run finished.")])
    groups = [(row_label(cmp, row), [r.history for r in cmp.finished_runs_of(row)]) for row in best_per_model]
    swept = any(cmp.swept(a) for a in ("optimizers", "lrs", "augment"))
    what = "each model's best configuration" if swept else "every model"
    band = " (line: mean over seeds; band: min to max)" if cmp.swept("seeds") else ""
    blocks = [Figure("learning_curves", figures.learning_curves(groups),
                     f"Train and validation accuracy and loss per epoch, one line per model: {what}{band}. "
                     f"Each run's own curves are in its model's section below.")]
    return Section("curves", "Learning curves", blocks)


def _best_row_per_model(cmp: Comparison) -> list[dict]:
    seen, out = set(), []
    for row in cmp.finished_rows:
        if row["model"] not in seen:
            seen.add(row["model"])
            out.append(row)
    return out


# --- 5. optimizer x learning-rate sweep ---------------------------------------------------------------------------

def sweep(cmp: Comparison) -> Section | None:
    if not (cmp.swept("optimizers") or cmp.swept("lrs")):
        return None
    optimizers = list(cmp.grid["optimizers"])
    lrs = [float(v) for v in cmp.grid["lrs"]]
    panels = []
    for model in cmp.grid["models"]:
        for aug in cmp.grid.get("augment", [False]):
            values = np.full((len(optimizers), len(lrs)), np.nan)
            for row in cmp.rows:
                if row["model"] == model and row["augment"] == aug and row.get("val_acc") is not None:
                    values[optimizers.index(row["optimizer"]), lrs.index(float(row["lr"]))] = row["val_acc"]
            title = model + (f" ({'aug' if aug else 'no aug'})" if cmp.swept("augment") else "")
            panels.append((title, optimizers, [f"{v:g}" for v in lrs], values))
    seeds = " (mean over seeds)" if cmp.swept("seeds") else ""
    return Section("sweep", "Optimizer x learning rate", [
        Figure("sweep_heatmap", figures.heatmaps(panels), f"Validation accuracy{seeds} per optimizer and learning rate"),
        Text(f"Validation accuracy{seeds} in percent for each optimizer (rows) and learning rate (columns); "
             f"grey cells failed (their reason is in the leaderboard).", "note")])


# --- 6. cost vs accuracy ----------------------------------------------------------------------------------------

def cost(cmp: Comparison) -> Section:
    rows = [r for r in cmp.finished_rows if r.get("infer_ms") and r.get("params")]
    if not rows:
        return Section("cost", "Cost vs accuracy", [Text("No run finished.")])
    accs = [r["test_acc_mean"] for r in rows]
    front_infer = set(pareto_front([r["infer_ms"] for r in rows], accs))
    front_params = set(pareto_front([float(r["params"]) for r in rows], accs))
    points = [{"label": row_label(cmp, r), "acc": r["test_acc_mean"], "std": r.get("test_acc_std"),
               "infer_ms": r["infer_ms"], "params": r["params"], "front_infer": i in front_infer,
               "front_params": i in front_params} for i, r in enumerate(rows)]
    table = Table(["configuration", "test acc (%)", "infer ms / image", "params", "Pareto (time)", "Pareto (size)"],
                  [[cell(p["label"]), cell(pct(p["acc"]), p["acc"]), cell(f"{p['infer_ms']:.4f}", p["infer_ms"]),
                    cell(f"{p['params']:,}", p["params"]), cell("yes" if p["front_infer"] else ""),
                    cell("yes" if p["front_params"] else "")] for p in points], id="cost", sortable=True)
    return Section("cost", "Cost vs accuracy", [
        Figure("cost_accuracy", figures.cost_accuracy(points),
               "Test accuracy against inference time per image and against parameter count, Pareto front in red"),
        Text("On the Pareto front (red line, blue points) no other configuration is both cheaper and more accurate; "
             "every grey point is beaten on both counts by one on the front. Inference time is per image, measured "
             "in batches on the test set on the machine above.", "note"),
        table])

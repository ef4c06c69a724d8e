"""Section 1, what was compared: the summary, the dataset card, and the grid's settings with the machine."""
from __future__ import annotations

from dataclasses import fields

import numpy as np

from ..config import RunConfig
from ..data import train_val_split
from ..store.comparison import Comparison, Run
from ..store.leaderboard import one_class_warnings, pct
from ..store.rows import row_label
from . import figures
from .blocks import cell, Details, Figure, Row, Section, Table, Text

MAX_SAMPLE_CLASSES = 20  # dataset card: sample strips for at most this many classes
SAMPLES_PER_CLASS = 8


def seconds(s: float) -> str:
    """A duration in the unit that reads best: '42.0 s', '3.5 min', '2.1 h'."""
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def summary(cmp: Comparison, ds, ds_note: str) -> list[Section]:
    """What ran and what came out best, the dataset card, and the grid's settings with the machine."""
    done = [r for r in cmp.runs if r.finished]
    lines = [Text(f"{len(cmp.runs)} runs of {len(cmp.grid.get('models', []))} models on {cmp.dataset['name']}: "
                  f"{len(done)} finished, {len(cmp.runs) - len(done)} failed.")]
    if cmp.finished_rows:
        best = cmp.finished_rows[0]
        lines.append(Text(f"Best by validation accuracy: {row_label(cmp, best)}, {pct(best['val_acc'])}% on "
                          f"validation and {pct(best['test_acc_mean'])}% on the test set "
                          f"(the test split never chooses a model)."))
    lines += [Text(f"Warning: {w}.") for w in one_class_warnings(cmp.finished_rows)]
    spent = sum(r.metrics.get("train_seconds") or 0 for r in cmp.runs)
    lines.append(Text(f"Total training time: {seconds(spent)} (sum over runs; evaluation and data loading not counted)."))
    setup = Section("setup", "Grid, machine and versions", [Details(
        f"{len(cmp.runs)} runs, every combination of the grid's axes, on {machine_line(cmp)}: every setting",  # no "click": report.md shows it open
        [Row([grid_table(cmp), machine_table(cmp)])])], level=3)
    return [Section("summary", "Summary", lines), dataset_card(cmp, ds, ds_note), setup]


def dataset_card(cmp: Comparison, ds, ds_note: str) -> Section:
    """The dataset's facts, images per class, and sample images when the data could be loaded again."""
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
        if m.get("n_photos_train"):
            facts += [("real photos trained on", f"{m['n_photos_train']:,} from {cfg.get('train_photos')}, each "
                       f"{m['photo_repeats']}x per epoch; {m['n_photos_held_out']:,} more held out and scored")]
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

    cfg = run.config
    train_idx, val_idx = train_val_split(ds.y_train, cfg["val_fraction"], cfg["seed"], cfg.get("train_subset"),
                                         cfg.get("folds"), cfg.get("fold", 0))
    train = np.bincount(ds.y_train[train_idx].numpy(), minlength=k)
    val = np.bincount(ds.y_train[val_idx].numpy(), minlength=k)
    header = [f"train (seed {cfg['seed']} split)", "validation", "test"]
    return header, [[name, int(train[i]), int(val[i]), int(test[i])] for i, name in enumerate(cmp.classes)]


def grid_table(cmp: Comparison) -> Table:
    """The grid's axes, then the settings its runs share (those at their defaults counted, not listed)."""
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
    """'cpu (x86_64, 2 threads), torch 2.x': where the runs trained, in one line."""
    v = cmp.versions
    done = [r.metrics for r in cmp.runs if r.finished]
    device = done[0].get("device", "?") if done else "?"
    return f"{device} ({v.get('machine', '?')}, {v.get('threads', '?')} threads), torch {v.get('torch', '?')}"


def machine_table(cmp: Comparison) -> Table:
    """grid.json's record (command, CPU, load at start) and versions, and the devices and precisions the runs used."""
    done = [r.metrics for r in cmp.runs if r.finished]
    facts = [(k.replace("_", " "), str(v)) for k, v in cmp.record.items() if v is not None]
    facts += [(k, str(v)) for k, v in cmp.versions.items()]
    for key in ("device", "precision"):
        values = sorted({str(m.get(key)) for m in done if m.get(key)})
        if values:
            facts.append((key, ", ".join(values)))
    return kv_table(facts, "Machine and versions")


def kv_table(facts: list[tuple[str, str]], caption: str) -> Table:
    """A two-column table of (name, value) facts."""
    return Table(["", ""], [[cell(k), cell(v)] for k, v in facts], caption=caption)

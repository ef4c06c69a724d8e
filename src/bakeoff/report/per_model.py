"""Sections about single models: errors, per-class scores, pictures of predictions, layers; and disagreements."""
from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from ..store.comparison import Comparison, Run
from ..store.leaderboard import pct
from ..store.rows import best_row_per_model, row_label
from . import figures
from .autoencoder import autoencoder_blocks
from .blocks import cell, Details, Figure, Row, Section, slug, Table, Text
from .figures import RIGHT, WRONG
from .summary import summarize

SAMPLE_IMAGES = 30  # predicted-samples grid: about this many test images, every class present
TOP_LOSSES = 16  # the most confident mistakes shown per model
DISAGREEMENTS = 16  # images shown for each direction of best vs runner-up
MAX_RUN_CURVES = 12  # per-run learning curves shown per model; the rest are in the run folders


def model_sections(cmp: Comparison, ds) -> list[Section]:
    """One section per model, showing the run of its best configuration with the best validation accuracy."""
    out = [Section("models", "Per model", [Text(
        "For each model, its best configuration by validation accuracy and, of that configuration's seeds, the run "
        "with the best validation accuracy.")])]
    for row in best_row_per_model(cmp):
        out.append(one_model(cmp, row, cmp.representative(row), ds))
    for model in cmp.grid.get("models", []):
        if not any(r["model"] == model for r in cmp.finished_rows):
            out.append(Section(f"model-{slug(model)}", model, [Text("No run of this model finished; see the failed "
                                                                     "runs in the leaderboard.", "warn")], level=3))
    return out


def one_model(cmp: Comparison, row: dict, run: Run, ds) -> Section:
    classes = cmp.classes
    pred = run.predictions()
    y_true, y_pred = pred["y_true"], pred["y_pred"]
    name = slug(row["model"])
    m = run.metrics
    blocks = [Text(f"Run {run.run_id}: test accuracy {pct(m['test_acc'])}%, test loss {m['test_loss']:.4f}, "
                   f"validation accuracy {pct(m.get('val_acc'))}%, kept epoch {m.get('best_epoch')} of "
                   f"{m.get('epochs_run')}, {m['params']:,} parameters.")]
    cm = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    blocks.append(Row([Figure(f"{name}_confusion", figures.confusion_matrix(cm, classes, f"{row_label(cmp, row)}: "
                                                                                          f"confusion matrix"),
                              f"Confusion matrix of {run.run_id}, each row normalized to 100%", width=560),
                       per_class_table(y_true, y_pred, classes, f"per-class-{name}")]))
    if ds is not None:
        blocks.append(sample_grid(ds, y_true, y_pred, classes, f"{name}_samples", row_label(cmp, row)))
        blocks.append(top_losses(ds, pred, classes, f"{name}_top_losses", row_label(cmp, row)))
    blocks += training_notes(run) + autoencoder_blocks(run, name, classes)
    runs = [r for rr in cmp.rows if rr["model"] == row["model"] for r in cmp.runs_of(rr) if r.history]
    if runs:
        shown = runs[:MAX_RUN_CURVES]
        blocks.append(Figure(f"{name}_runs", figures.run_curves(
            [(r.run_id, r.history, r.metrics.get("best_epoch")) for r in shown]),
            f"Learning curves of each run of {row['model']}"))
        if len(runs) > len(shown):
            blocks.append(Text(f"Curves of {len(shown)} of {len(runs)} runs shown (the best configurations first); "
                               f"every run's history.csv is in its folder.", "note"))
    blocks += layer_table(row["model"], cmp)
    return Section(f"model-{name}", row["model"], blocks, level=3)


def training_notes(run: Run) -> list:
    """How a transfer or autoencoder run was trained, in one line (nothing for plain training)."""
    m, c = run.metrics, run.config
    parts = []
    if "reconstruct_epochs" in m:
        noise = f" on inputs with noise sigma {m['denoise']:g}" if m.get("denoise") else ""
        parts.append(f"{m['reconstruct_epochs']} epochs of reconstruction{noise} ({m['reconstruct_seconds']:.0f} s), "
                     f"then the classifier on the frozen encoder")
    if m.get("pretrained"):
        source = "ImageNet weights" if m["pretrained"] == "imagenet" else f"the checkpoint {m['pretrained']}"
        parts.append(f"started from {source}")
    if c.get("freeze") == "backbone":
        cache = (f", its features cached once ({m['feature_cache_seconds']:.1f} s, {m['feature_cache_mb']:.0f} MB)"
                 if m.get("feature_cache") and "feature_cache_seconds" in m else "")
        parts.append(f"backbone frozen, head trained alone{cache}")
    if c.get("freeze") == "probe":
        parts.append(f"backbone frozen, final layer fitted as a linear probe (logistic regression, C = {m.get('probe_c')} "
                     f"chosen on validation)")
    if m.get("finetuned_blocks"):
        parts.append(f"last {m['finetuned_blocks']} of {m['backbone_blocks']} backbone blocks fine-tuned at lr x "
                     f"{c.get('backbone_lr_scale', 0.1):g}" + ("" if m.get("finetune_kept", True)
                                                        else " (not kept: validation loss did not improve)"))
    return [Text(f"Training: {'; '.join(parts)}.")] if parts else []


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], table_id: str) -> Table:
    """scikit-learn's precision, recall and F1 per class, plus the macro average."""
    labels = list(range(len(classes)))
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    rows = [[cell(c), cell(f"{p[i]:.3f}", float(p[i])), cell(f"{r[i]:.3f}", float(r[i])),
             cell(f"{f[i]:.3f}", float(f[i])), cell(f"{int(support[i]):,}", int(support[i]))] for i, c in enumerate(classes)]
    rows.append([cell("macro average"), cell(f"{p.mean():.3f}", float(p.mean())),
                 cell(f"{r.mean():.3f}", float(r.mean())), cell(f"{f.mean():.3f}", float(f.mean())),
                 cell(f"{int(support.sum()):,}", int(support.sum()))])
    return Table(["class", "precision", "recall", "F1", "test images"], rows, id=table_id,
                 caption="Per class: precision (of the images predicted as the class, the share that are), "
                         "recall (of the class's images, the share found), F1 (their harmonic mean)")


def sample_grid(ds, y_true, y_pred, classes, name: str, label: str) -> Figure:
    """The first test images of every class, one class per column, captioned green when right, red when wrong."""
    k = len(classes)
    per_class = max(1, math.ceil(SAMPLE_IMAGES / k)) if k <= 12 else 1
    firsts = [np.flatnonzero(y_true == c)[:per_class] for c in range(min(k, SAMPLE_IMAGES))]
    if k <= 12:  # each row holds the next `reps` images of every class, class after class
        reps = max(1, 8 // k)  # three classes: two of each per row, not a thin strip of ten rows
        idx = [f[j] for start in range(0, per_class, reps) for f in firsts for j in range(start, start + reps)
               if j < len(f)]
        ncols = k * reps
    else:
        idx = [i for f in firsts for i in f]
        ncols = 8
    idx = np.array(idx, dtype=int)
    titles = [f"true: {classes[y_true[i]]}\npred: {classes[y_pred[i]]}" for i in idx]
    colors = [RIGHT if y_true[i] == y_pred[i] else WRONG for i in idx]
    right = int(np.sum(y_true[idx] == y_pred[idx]))
    return Figure(name, figures.image_grid(ds.x_test[idx].numpy(), titles, colors,
                                           f"{label}: predicted test samples ({right} of {len(idx)} right)", ncols),
                  f"{label}: predicted test images with true and predicted labels, green right and red wrong")


def top_losses(ds, pred: dict, classes, name: str, label: str) -> Figure | Text:
    """The wrong predictions with the highest loss: confidently wrong, or mislabelled data."""
    wrong = np.flatnonzero(pred["y_pred"] != pred["y_true"])
    if not len(wrong):
        return Text("No test image is misclassified, so there are no top losses to show.", "note")
    idx = wrong[np.argsort(-pred["loss"][wrong], kind="stable")][:TOP_LOSSES]
    titles = [f"{classes[pred['y_pred'][i]]} ({100 * pred['probs'][i, pred['y_pred'][i]]:.0f}%)\n"
              f"true: {classes[pred['y_true'][i]]}\nloss {pred['loss'][i]:.2f}" for i in idx]
    return Figure(name, figures.image_grid(ds.x_test[idx].numpy(), titles, [WRONG] * len(idx),
                                           f"{label}: top losses (the {len(idx)} most confident mistakes "
                                           f"of {len(wrong)})", ncols=8),
                  f"{label}: the misclassified test images with the highest loss; caption: predicted class "
                  f"(its probability), true class, loss")


def layer_table(model: str, cmp: Comparison) -> list:
    c, size = cmp.dataset["shape"][0], cmp.dataset["shape"][1]
    built = next((r.metrics.get("model_kwargs") for r in cmp.runs if r.finished and r.config["model"] == model), None)
    options = {k: v for k, v in (built or {}).items() if k not in ("num_classes", "in_chans", "img_size")}
    try:
        s = summarize(model, num_classes=len(cmp.classes), in_chans=c, img_size=size, **options)
    except Exception as e:  # a model the meta device cannot trace: say so, keep the rest of the report
        return [Text(f"No layer table for {model}: tracing it failed ({type(e).__name__}: {e}).", "warn")]
    rows = [[cell(r.name), cell(r.kind), cell(s.shape_text(r.shape) if r.shape else ""), cell(f"{r.params:,}", r.params)]
            for r in s.layers]
    table = Table(["layer", "type", "output shape", "parameters"], rows, id=f"layers-{slug(model)}",
                  caption=f"Model summary of {model} for {c} x {size} x {size} input (B: batch size)")
    total = f"Total parameters: {s.total:,} ({s.trainable:,} trainable)."
    return [Details(f"Layers of {model}: {len(s.layers)} layers, {s.total:,} parameters", [table, Text(total)])]


def disagreements(cmp: Comparison, ds, ds_note: str) -> Section | None:
    """Test images the best configuration gets right and the runner-up wrong, and the reverse (same seed)."""
    rows = cmp.finished_rows
    if len(rows) < 2:
        return None
    best, second = rows[0], rows[1]
    a = cmp.representative(best)
    b = cmp.representative(second, seed=a.config["seed"])
    pa, pb = a.predictions(), b.predictions()
    y = pa["y_true"]
    ca, cb = pa["y_pred"] == y, pb["y_pred"] == y
    la, lb = row_label(cmp, best), row_label(cmp, second)
    only_a, only_b = np.flatnonzero(ca & ~cb), np.flatnonzero(cb & ~ca)
    blocks = [Text(f"Best: {a.run_id}; runner-up: {b.run_id}. Of {len(y):,} test images, both are right on "
                   f"{int(np.sum(ca & cb)):,}, both wrong on {int(np.sum(~ca & ~cb)):,}; only the best is right on "
                   f"{len(only_a):,}, only the runner-up on {len(only_b):,}.")]
    if ds is None:
        blocks.append(Text(f"No images: {ds_note}.", "note"))
        return Section("disagreements", "Disagreements: best vs runner-up", blocks)
    classes = cmp.classes
    for idx, wrong_label, wrong_pred, name in ((only_a, lb, pb, "disagree_best_right"),
                                               (only_b, la, pa, "disagree_second_right")):
        title = f"{la} right, {lb} wrong" if name == "disagree_best_right" else f"{lb} right, {la} wrong"
        if not len(idx):
            blocks.append(Text(f"No test image where {title}.", "note"))
            continue
        shown = idx[:DISAGREEMENTS]
        titles = [f"true: {classes[y[i]]}\n{_short(wrong_label)}: {classes[wrong_pred['y_pred'][i]]}" for i in shown]
        blocks.append(Figure(name, figures.image_grid(ds.x_test[shown].numpy(), titles, [WRONG] * len(shown),
                                                      f"{title} ({len(shown)} of {len(idx)} shown)", ncols=8),
                             f"Test images where {title}; caption: true class and the wrong prediction"))
    return Section("disagreements", "Disagreements: best vs runner-up", blocks)


def _short(label: str) -> str:
    return label if len(label) <= 14 else label[:13] + "…"

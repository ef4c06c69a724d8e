"""Why one model wins: calibration, robustness under corruption and Grad-CAM, one section each.

The numbers were measured after training by analysis/finished.py and left in the run folders (calibration.json,
robustness.json) and in OUT/gradcam.npz; this module only reads and shows them, for each model's best
configuration (the run the per-model sections show).
"""
from __future__ import annotations

import numpy as np

from .. import files
from ..store import runfolder
from ..store.comparison import Comparison, Run, UNREADABLE_NPZ
from ..store.leaderboard import pct
from ..store.rows import best_row_per_model, row_label
from . import why_figures
from .blocks import cell, Figure, Section, Table, Text
from .overview import seconds

NOT_MEASURED = ("made before bakeoff measured it, or the analysis was stopped; the same bakeoff compare command "
                "adds it without retraining")


def _shown(cmp: Comparison, file: str) -> list[tuple[str, Run, dict]]:
    """(label, run, its file's contents) for each model's best configuration that has the file."""
    out = []
    for row in best_row_per_model(cmp):
        run = cmp.representative(row)
        data = files.read_json(run.dir / file) if run else None
        if data:
            out.append((row_label(cmp, row), run, data))
    return out


def calibration(cmp: Comparison) -> Section:
    """ECE and NLL before and after temperature scaling, the reliability diagrams of every model."""
    shown = _shown(cmp, runfolder.CALIBRATION_FILE)
    if not shown:
        return Section("calibration", "Calibration", [Text(f"Not measured: {NOT_MEASURED}.", "note")])
    rows = [[cell(label), cell(pct(run.metrics["test_acc"]), run.metrics["test_acc"]),
             cell(f"{100 * c['ece']:.2f}", c["ece"]), cell(f"{100 * c['ece_calibrated']:.2f}", c["ece_calibrated"]),
             cell(f"{c['nll']:.4f}", c["nll"]), cell(f"{c['nll_calibrated']:.4f}", c["nll_calibrated"]),
             cell(f"{c['temperature']:.2f}", c["temperature"]), cell(f"{mean_confidence(c['before']):.2f}",
                                                                     mean_confidence(c["before"]))]
            for label, run, c in shown]
    table = Table(["model", "test acc (%)", "ECE (%)", "ECE after T (%)", "NLL", "NLL after T", "temperature T",
                   "mean confidence (%)"], rows, id="calibration-table", sortable=True,
                  caption="Calibration on the test split, as trained and after temperature scaling")
    spent = sum(c.get("calibration_seconds", 0) for _, _, c in shown)
    return Section("calibration", "Calibration", [
        Text("Is a model as sure as it is right? Expected calibration error (ECE) bins the test images by the top "
             "class's probability (15 bins) and averages |accuracy - confidence| over them, weighted by their size: 0 "
             "is perfect. Temperature scaling divides the logits by one number T fitted on the validation split "
             "(never the test split): T > 1 means the model was over-confident, T < 1 under-confident. It leaves "
             "every prediction, so the accuracy, unchanged. bakeoff predict --calibrated and bakeoff serve "
             "--calibrated answer with the scaled probabilities."),
        Text(calibration_finding(shown)),
        table,
        Figure("calibration_all", why_figures.reliability_all([(label, c["before"], c["after"])
                                                               for label, _, c in shown]),
               "Reliability of every model on one chart: accuracy against confidence per bin, as trained and after "
               "temperature scaling; the dotted diagonal is perfect calibration, a marker's size its share of images"),
        Figure("calibration_per_model", why_figures.reliability_per_model(
            [(label, c["before"], c["after"], c["ece"], c["ece_calibrated"], c["temperature"])
             for label, _, c in shown]),
            "Reliability diagram per model: accuracy per confidence bin as trained (bars; hatched: the gap to the "
            "diagonal) and after temperature scaling (line)"),
        Text(f"Fitting T and scoring took {seconds(spent)} in all ({len(shown)} runs: one pass over the validation "
             f"and the test split each).", "note"),
    ])


def mean_confidence(bins: dict) -> float:
    """The mean top-class probability over the test images, in percent."""
    total = sum(bins["count"])
    return 100 * sum(n * c for n, c in zip(bins["count"], bins["confidence"]) if n) / max(total, 1)


def calibration_finding(shown: list[tuple[str, Run, dict]]) -> str:
    """One sentence a reader could not get from accuracy alone: who is worst calibrated, and which way."""
    label, run, c = max(shown, key=lambda s: s[2]["ece"])
    side = "over-confident" if c["temperature"] > 1 else "under-confident"
    text = (f"Worst calibrated: {label}, {side}: its mean confidence is {mean_confidence(c['before']):.1f}% for "
            f"{pct(run.metrics['test_acc'])}% accuracy (ECE {100 * c['ece']:.1f}%, {100 * c['ece_calibrated']:.1f}% "
            f"after scaling with T = {c['temperature']:.2f}).")
    best_acc = max(shown, key=lambda s: s[1].metrics["test_acc"])
    best_ece = min(shown, key=lambda s: s[2]["ece"])
    if best_acc[0] != best_ece[0]:
        text += (f" The most accurate model ({best_acc[0]}) is not the best calibrated ({best_ece[0]}, ECE "
                 f"{100 * best_ece[2]['ece']:.1f}% against {100 * best_acc[2]['ece']:.1f}%).")
    return text


def robustness(cmp: Comparison) -> Section:
    """Accuracy under each corruption at three severities, per model; what it cost."""
    shown = _shown(cmp, runfolder.ROBUSTNESS_FILE)
    if not shown:
        why = NOT_MEASURED + " (unless --no-robustness is given)"
        return Section("robustness", "Robustness", [Text(f"Not measured: {why}.", "note")])
    rows = []
    for label, run, r in shown:
        worst = min(r["accuracy"], key=lambda k: np.mean(r["accuracy"][k]))
        rows.append([cell(label), cell(pct(r["clean_acc"]), r["clean_acc"]),
                     cell(pct(r["mean_corrupted_acc"]), r["mean_corrupted_acc"]),
                     cell(pct(r["relative_drop"]), r["relative_drop"]),
                     cell(f"{worst.replace('_', ' ')} ({pct(float(np.mean(r['accuracy'][worst])))}%)"),
                     cell(f"{r['seconds']:.1f}", r["seconds"])])
    table = Table(["model", "clean acc (%)", "corrupted acc (%)", "relative drop (%)", "worst corruption",
                   "seconds"], rows, id="robustness-table", sortable=True,
                  caption="Accuracy on the same test images, clean and under 7 corruptions x 3 severities")
    first = shown[0][2]
    levels = "; ".join(f"{k.replace('_', ' ')} {', '.join(f'{v:g}' for v in vals)}"
                       for k, vals in first.get("severities", {}).items())
    spent = sum(r["seconds"] for _, _, r in shown)
    return Section("robustness", "Robustness", [
        Text(f"How much accuracy survives what cameras and pipelines do to images: Gaussian noise, blur, lower "
             f"contrast, brighter pixels, JPEG compression, small rotations and shifts, each at three severities "
             f"(after ImageNet-C), on {first['n_images']:,} test images that are the same for every model of a seed "
             f"(the corruptions' randomness is seeded too). Relative drop: 1 - corrupted / clean accuracy."),
        Text(robustness_finding(shown)),
        table,
        Figure("robustness_curves", why_figures.robustness_curves([(label, r["clean_acc"], r["accuracy"])
                                                                   for label, _, r in shown]),
               "Test accuracy against corruption severity per model: the mean over all corruptions, then each one"),
        Text(f"Severities (1, 2, 3): {levels}. Cost: {seconds(spent)} for {len(shown)} runs on the machine above "
             f"(22 passes over the images each); --no-robustness skips it.", "note"),
    ])


def robustness_finding(shown: list[tuple[str, Run, dict]]) -> str:
    """Whether the most accurate model on clean images is also the most robust, in one sentence."""
    clean = max(shown, key=lambda s: s[2]["clean_acc"])
    robust = max(shown, key=lambda s: s[2]["mean_corrupted_acc"])
    steady = min(shown, key=lambda s: s[2]["relative_drop"] if s[2]["relative_drop"] is not None else 1)
    if clean[0] == robust[0]:
        text = (f"{clean[0]} is the most accurate both on clean images ({pct(clean[2]['clean_acc'])}%) and under "
                f"corruption ({pct(clean[2]['mean_corrupted_acc'])}%).")
    else:
        text = (f"The most accurate on clean images ({clean[0]}, {pct(clean[2]['clean_acc'])}%) is not the most "
                f"robust: {robust[0]} keeps {pct(robust[2]['mean_corrupted_acc'])}% under corruption against "
                f"{pct(clean[2]['mean_corrupted_acc'])}%.")
    if len(shown) > 1:
        text += f" Smallest relative drop: {steady[0]} ({pct(steady[2]['relative_drop'])}%)."
    return text


def gradcam(cmp: Comparison, ds, ds_note: str) -> Section:
    """Where each model looked on the same test images (those the best two disagree on first)."""
    path = cmp.out / runfolder.CAM_FILE
    title = "Where the models look (Grad-CAM)"
    try:
        cams = files.read_arrays(path)
    except UNREADABLE_NPZ:
        return Section("gradcam", title, [Text(f"Not measured: {NOT_MEASURED}.", "note")])
    if ds is None:
        return Section("gradcam", title, [Text(f"No images: {ds_note}.", "note")])
    idx = cams["indices"]
    if idx.max(initial=-1) >= len(ds.y_test) or not np.array_equal(ds.y_test.numpy()[idx], cams["y_true"]):
        return Section("gradcam", title, [Text(f"{path.name} does not match the test split loaded now; the same "
                                               f"bakeoff compare command writes it again.", "warn")])
    classes = cmp.classes
    by_id = {r.run_id: r for r in cmp.runs}
    rows, methods = [], []
    for run_id, method, maps, preds in zip(cams["run_ids"], cams["methods"], cams["maps"], cams["y_pred"]):
        run = by_id.get(str(run_id))
        label = run.config["model"] if run else str(run_id)
        rows.append((label, maps.astype(np.float32), [classes[p] for p in preds], list(preds == cams["y_true"])))
        methods.append(f"{label}: {method}")
    true = [classes[y] for y in cams["y_true"]]
    figure = why_figures.cam_grid(ds.x_test[idx].numpy(), true, rows,
                                  f"What each model's prediction rests on, {len(idx)} test images")
    return Section("gradcam", title, [
        Text("Each model's Grad-CAM map for its own prediction (red: the regions that raised that class's score "
             "most), on the same test images: first those where the best model and the runner-up (each by its best "
             "configuration) disagree on being right, then where any two models predict differently, then one "
             "image per class. Captions: the prediction, green when right."),
        Figure("gradcam", figure, "Grad-CAM maps of every model on the same test images; top row: the images "
                                  "with their true class"),
        Text(f"Methods: {'; '.join(methods)}. Models without a convolution get the size of the class score's "
             f"gradient per pixel instead. Computed in {float(np.sum(cams['seconds'])):.1f} s.", "note"),
    ])

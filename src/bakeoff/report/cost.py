"""Section 6, cost vs accuracy: what each configuration's accuracy costs in inference time and size."""
from __future__ import annotations

from ..store.comparison import Comparison
from ..store.leaderboard import fmt, pct
from ..store.rows import row_label
from . import figures
from .blocks import cell, Figure, Section, Table, Text
from .stats import pareto_front


def cost(cmp: Comparison) -> Section:
    """Test accuracy against inference time and parameter count, with each Pareto front."""
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
                  [[cell(p["label"]), cell(pct(p["acc"]), p["acc"]),
                    cell(fmt("infer_ms", p["infer_ms"]), p["infer_ms"]), cell(fmt("params", p["params"]), p["params"]),
                    cell("yes" if p["front_infer"] else ""), cell("yes" if p["front_params"] else "")]
                   for p in points], id="cost", sortable=True)
    return Section("cost", "Cost vs accuracy", [
        Figure("cost_accuracy", figures.cost_accuracy(points),
               "Test accuracy against inference time per image and against parameter count, Pareto front in red"),
        Text("On the Pareto front (red line, blue points) no other configuration is both cheaper and more accurate; "
             "every grey point is beaten on both counts by one on the front. Inference time is per image, measured "
             "in batches on the test set on the machine above." + load_note(cmp), "note"),
        table])


def load_note(cmp: Comparison) -> str:
    """Under what load the inference times were taken: other processes on the same cores slow them."""
    loads = [r.metrics["load_average"] for r in cmp.runs if r.finished and r.metrics.get("load_average") is not None]
    if not loads:
        return ""
    threads = cmp.versions.get("threads", "?")
    return (f" The 1-minute load average as each run was tested: {min(loads):.1f} to {max(loads):.1f}, for "
            f"{threads} threads; a load above the thread count means other processes shared the cores and the "
            f"times are inflated.")

"""Holm's correction: hand-computed values, and the significance section's verdicts read from the corrected p."""
from pathlib import Path

import numpy as np
import pytest

from bakeoff.config import RunConfig
from bakeoff.store.leaderboard import build_leaderboard
from bakeoff.store.comparison import Comparison, Run
from bakeoff.report.holm import holm_adjust
from bakeoff.report.significance import significance
from bakeoff.report.stats import mcnemar_exact


def test_holm_matches_a_hand_computed_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06 (monotone)
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_is_capped_at_one_and_never_below_a_smaller_p():
    # 0.5 x 2 = 1.0; 0.6 x 1 = 0.6 would fall below it, so it is raised to 1.0
    assert holm_adjust([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([0.02]) == pytest.approx([0.02])  # one test: nothing to correct
    assert holm_adjust([]) == []


N_TEST = 100  # test images of the fake comparison


def _run(model: str, val_acc: float, wrong: int) -> Run:
    """A finished run of `model` that gets the first `wrong` test images wrong and the rest right."""
    y_true = np.zeros(N_TEST, dtype=np.int64)
    y_pred = y_true.copy()
    y_pred[:wrong] = 1
    config = RunConfig(model=model, seed=0).to_dict()
    metrics = {"status": "finished", "seed": 0, "test_acc": 1 - wrong / N_TEST, "val_acc": val_acc,
               "val_loss": 1 - val_acc, "params": 1000, "mflops": 1.0}
    probs = np.eye(2)[y_pred]  # (N, 2)
    return Run(run_id=f"{model}_seed0", dir=Path("/nonexistent") / model, config=config, metrics=metrics, history=[],
               _predictions={"y_true": y_true, "y_pred": y_pred, "probs": probs, "loss": np.zeros(N_TEST)})


def _comparison(runs: list[Run]) -> Comparison:
    grid = {"models": [r.config["model"] for r in runs], "optimizers": ["adam"], "lrs": [0.001], "augment": [False],
            "seeds": [0]}
    return Comparison(out=Path("/nonexistent"), grid=grid, dataset={"name": "fake", "classes": ["0", "1"]},
                      versions={}, runs=runs, rows=build_leaderboard([(r.config, r.metrics) for r in runs]))


def _table(section) -> list[dict]:
    table = next(b for b in section.blocks if getattr(b, "id", "") == "significance")
    return [dict(zip(table.columns, (c.text for c in row))) for row in table.rows]


def test_significance_verdicts_use_the_holm_corrected_p():
    # cnn4 (best) right everywhere; mlp and resnet20 each wrong on 6 images (McNemar p = 2 / 2^6 = 0.031), simple-cnn
    # on 10 (p = 0.002). Holm over the 3 tests: 0.002 x 3 = 0.006; 0.031 x 2 = 0.0625 for mlp and resnet20: not < 0.05.
    cmp = _comparison([_run("cnn4", 0.99, 0), _run("simple-cnn", 0.98, 10), _run("mlp", 0.97, 6),
                       _run("resnet20", 0.96, 6)])
    section = significance(cmp)
    rows = {r["compared with"]: r for r in _table(section)}
    assert float(rows["mlp"]["p (McNemar exact)"]) == pytest.approx(mcnemar_exact(6, 0), rel=0.05)
    assert float(rows["mlp"]["p (Holm)"]) == pytest.approx(0.0625, rel=0.05)
    assert float(rows["simple-cnn"]["p (Holm)"]) == pytest.approx(3 * mcnemar_exact(10, 0), rel=0.05)
    assert rows["mlp"]["at 0.05 (Holm)"] == rows["resnet20"]["at 0.05 (Holm)"] == "cannot be told apart"
    assert rows["simple-cnn"]["at 0.05 (Holm)"] == "cnn4 is better"
    texts = [b.text for b in section.blocks if hasattr(b, "text")]
    assert not any("No correction" in t for t in texts)
    assert any("Holm correction over all 3 tests" in t for t in texts)
    assert any(t.startswith("cnn4 and mlp cannot be told apart") and "Holm-corrected p = 0.062" in t for t in texts)

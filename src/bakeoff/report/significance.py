"""Section 3, is the best model really better: paired tests of each configuration against the best, per seed."""
from __future__ import annotations

from ..leaderboard import pct
from .blocks import Section, Table, Text, cell
from .collect import Comparison
from .rows import row_label
from .stats import ALPHA, paired_test


def significance(cmp: Comparison) -> Section:
    """Each configuration against the best one: McNemar's exact test and a bootstrap interval, seed by seed."""
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

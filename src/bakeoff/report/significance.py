"""Section 3, is the best model really better: paired tests of each configuration against the best, per seed."""
from __future__ import annotations

from ..store.comparison import Comparison
from ..store.leaderboard import pct
from ..store.rows import row_label
from .blocks import cell, Section, Table, Text
from .holm import holm_adjust
from .stats import ALPHA, paired_test, PairedTest


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
        f"were equally good, those would split 50/50. p < {ALPHA} means a split this uneven is unlikely by chance; "
        f"the verdicts use the Holm-corrected p, which accounts for every test in the table at once. "
        f"The interval is a 95% paired bootstrap of the accuracy difference (best minus other)."))
    tested = []  # (index of the other row, seed, best's run, other's run, test), in table order
    for i, other in enumerate(rows[1:]):
        # replicates pair up: the same seed (and fold, under --folds) trained both on the same split
        others = {_replicate(r): r for r in cmp.finished_runs_of(other)}
        for a in sorted(cmp.finished_runs_of(best), key=_replicate):
            b = others.get(_replicate(a))
            if b is None:
                continue
            seed = a.config["seed"]
            tested.append((i, _replicate_text(a), a, b, paired_test(a.correct(), b.correct(), seed=seed)))
    # The family is every test in the table: each verdict in it is a claim the report makes.
    p_holm = holm_adjust([t.p_value for *_, t in tested])
    names = [row_label(cmp, other) for other in rows[1:]]
    table_rows = []
    for (i, seed, a, b, t), p in zip(tested, p_holm):
        verdict = "cannot be told apart" if p >= ALPHA else f"{name if t.diff > 0 else names[i]} is better"
        table_rows.append([cell(names[i]), cell(seed), cell(pct(a.metrics["test_acc"])),
                           cell(pct(b.metrics["test_acc"])),
                           cell(f"{100 * t.diff:+.2f} [{100 * t.ci_low:+.2f}, {100 * t.ci_high:+.2f}]", t.diff),
                           cell(t.only_a, t.only_a), cell(t.only_b, t.only_b),
                           cell(_p(t.p_value), t.p_value), cell(_p(p), p), cell(verdict)])
    verdicts = [_verdict(name, other_name, [(t, p) for (j, *_, t), p in zip(tested, p_holm) if j == i])
                for i, other_name in enumerate(names)]
    blocks.append(Table(["compared with", "seed", "acc best (%)", "acc other (%)", "difference, points [95% CI]",
                         "only best right", "only other right", "p (McNemar exact)", "p (Holm)",
                         f"at {ALPHA} (Holm)"], table_rows, id="significance", sortable=True))
    blocks += [Text(v) for v in verdicts]
    if not cmp.swept("seeds"):
        blocks.append(Text(
            "One seed: these tests say whether the two trained networks differ on these test images. They cannot "
            "say whether training again with another seed would keep the order, because seed-to-seed spread is not "
            "measured; run with --seeds 0,1,2 for that.", "note"))
    else:
        blocks.append(Text("Runs are paired by seed (each seed's two runs on the same test images); the leaderboard's "
                           "± std is the spread across seeds.", "note"))
    if len(tested) > 1:
        blocks.append(Text(
            f"Holm correction over all {len(tested)} tests in the table: uncorrected, about one comparison in "
            f"{round(1 / ALPHA)} between equal models would look significant by chance. Holm sorts the p-values, "
            f"multiplies the smallest by {len(tested)}, the next by {len(tested) - 1}, and so on (never letting one "
            f"fall below the one before), so the chance of even one false 'is better' in the whole table stays "
            f"under {ALPHA}.", "note"))
    return Section("significance", "Is the best model really better?", blocks)


def _replicate(run) -> tuple[int, int]:
    return run.config["seed"], run.config.get("fold", 0) if run.config.get("folds") else 0


def _replicate_text(run) -> str:
    seed, fold = _replicate(run)
    return f"{seed}/fold{fold}" if run.config.get("folds") else str(seed)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def _verdict(best: str, other: str, tests: list[tuple[PairedTest, float]]) -> str:
    """One sentence per compared row, from its (test, Holm-corrected p) per seed."""
    if not tests:
        return f"{other}: no seed finished for both, so no paired test."
    wins = sum(p < ALPHA and t.diff > 0 for t, p in tests)
    losses = sum(p < ALPHA and t.diff < 0 for t, p in tests)
    n = len(tests)

    def in_seeds(k: int) -> str:
        return "" if n == 1 else f" in {k} of {n} seeds"

    if wins == 0 and losses == 0:
        return (f"{best} and {other} cannot be told apart on this test set "
                f"(Holm-corrected p = {_p(min(p for _, p in tests))}{'' if n == 1 else ' at best over the seeds'}).")
    parts = []
    if wins:
        parts.append(f"{best} is significantly better than {other}" + in_seeds(wins))
    if losses:
        parts.append(f"{other} is significantly better than {best}" + in_seeds(losses))
    rest = n - wins - losses
    if rest:
        parts.append(f"no significant difference in {rest} of {n} seeds")
    return "; ".join(parts) + "."

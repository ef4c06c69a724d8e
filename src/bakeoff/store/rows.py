"""Leaderboard rows as the report names and picks them: labelled by the grid axes that vary, each model's best."""
from __future__ import annotations

from ..config import RunConfig
from .comparison import Comparison
from .leaderboard import fmt, OPTION_COLUMNS


def row_label(cmp: Comparison, row: dict) -> str:
    """A leaderboard row named by the grid axes that vary: 'cnn4', or 'cnn4 · adam · lr 0.001' in a sweep."""
    parts = [row["model"]]
    if cmp.swept("optimizers"):
        parts.append(row["optimizer"])
    if cmp.swept("lrs"):
        parts.append(f"lr {fmt('lr', row['lr'])}")
    if cmp.swept("augment"):
        parts.append("aug" if row["augment"] else "no aug")  # 'on'/'off' alone would not say what
    for option in OPTION_COLUMNS:  # other options that differ between rows: swept, or a mixed line-up's transfer
        default = RunConfig.__dataclass_fields__[option].default
        if option in row and (cmp.swept(option) or row[option] not in (None, "", "none", default)):
            parts.append(f"{option.replace('_', ' ')} {fmt(option, row[option])}")
    return " · ".join(parts)


def best_row_per_model(cmp: Comparison) -> list[dict]:
    """Each model's best finished row by validation accuracy, in leaderboard order."""
    seen, out = set(), []
    for row in cmp.finished_rows:
        if row["model"] not in seen:
            seen.add(row["model"])
            out.append(row)
    return out

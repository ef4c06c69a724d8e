"""The critical-difference diagram (Demšar 2006): models on an axis of average rank, a bar joining those the
Nemenyi test cannot tell apart. scikit-posthocs draws it onto an Axes of our own Figure, so no pyplot state.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .figures import png
from .stats import ALPHA

CD_Y = 1.3  # height of the CD bar above the axis, in label lines: clear of the rank numbers


def cd_diagram(models: list[str], average_ranks: np.ndarray, nemenyi: np.ndarray, cd: float) -> bytes:
    """PNG of the diagram: rank 1 (best) on the left, the critical difference drawn as a length above the axis."""
    import pandas as pd
    import scikit_posthocs  # imported here: pulls pandas and seaborn (~1.5 s), only for this report

    k = len(models)
    fig = Figure()
    ax = fig.add_subplot()
    scikit_posthocs.critical_difference_diagram(
        pd.Series(average_ranks, index=models), pd.DataFrame(nemenyi, index=models, columns=models),
        ax=ax, alpha=ALPHA, label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": 10}, marker_props={"s": 24},
        text_h_margin=0.03)  # in rank units: a gap between the label and its line
    # The CD length drawn here, not by the library: its bar sits on the rank labels above the axis.
    ax.plot([1, 1 + cd], [CD_Y, CD_Y], color="k", lw=1.5, marker="|", ms=8)  # from rank 1, ends marked
    ax.text(1 + cd / 2, CD_Y + 0.2, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=10)
    ax.set_xlim(0.8, k + 0.2)  # every possible rank, so two diagrams of the same k read alike
    ax.set_xticks(range(1, k + 1))
    bottom = ax.get_ylim()[0]  # one label line per model and one per crossbar level below the axis
    ax.set_ylim(bottom, CD_Y + 0.9)
    fig.set_size_inches(8, 0.36 * (CD_Y + 0.9 - bottom))
    return png(fig, tight=True)  # tight: the labels sit outside the axes

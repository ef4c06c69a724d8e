"""bench/seed_tables.py's row table is complete and says what it runs: every number the five student projects
report has a row, every measurable row's printed `bakeoff compare` line builds exactly the runs the benchmark
trains, and every row that cannot be measured says why. Builds configurations only; trains nothing."""
from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest

from bakeoff.cli import build_parser
from bakeoff.commands.configs import grid_from_args
from bakeoff.models.options import grid_runs

ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = ROOT.parent / "shared" / "seeds"

# Every number the seeds report, as each writes it (../shared/seeds/000-004): the row table must hold each.
SEED_NUMBERS = {
    "000": ["87.98%", "92.7%"],
    "001": ["99.64%", "92.34%"],
    "002": ["92.7", "84.4%"],
    "003": ["74.23%", "66.21%", "0.7454", "1.0237", "95.02%", "79.71%", "0.1456", "0.5853",
            "84.00%", "82.64%", "0.4632", "0.5156"],
    "004": ["89.94%"],
}


def _load():
    sys.path.insert(0, str(ROOT / "bench"))  # as when the script runs: its folder first (seed_rows, results_file)
    spec = importlib.util.spec_from_file_location("seed_tables", ROOT / "bench" / "seed_tables.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


st = _load()
MEASURABLE = [r for r in st.ROWS if r.measurable]


def _as_number(text: str) -> float:
    return float(text.rstrip("%")) / (100 if text.endswith("%") or float(text.rstrip("%")) > 1.5 else 1)


@pytest.mark.parametrize("seed", sorted(SEED_NUMBERS))
def test_every_number_a_seed_reports_has_a_row(seed):
    held = [v for r in st.ROWS if r.seed == seed for v in r.seed_numbers.values()]
    missing = [n for n in SEED_NUMBERS[seed] if not any(abs(_as_number(n) - v) < 1e-9 for v in held)]
    assert not missing, f"seed {seed}: no row holds {missing}"


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the student projects are not beside this checkout")
@pytest.mark.parametrize("seed", sorted(SEED_NUMBERS))
def test_the_numbers_above_are_the_seeds_own(seed):
    text = next(SEEDS_DIR.glob(f"{seed}_*.txt")).read_text(encoding="utf-8", errors="replace")
    assert [n for n in SEED_NUMBERS[seed] if n not in text] == []


def test_row_ids_are_unique_and_name_their_seed():
    ids = [r.id for r in st.ROWS]
    assert len(ids) == len(set(ids))
    for r in st.ROWS:
        assert re.fullmatch(r"00[0-4]-[a-z0-9-]+", r.id) and r.id.startswith(r.seed + "-"), r.id


def test_rows_that_cannot_be_measured_say_why_and_measurable_ones_say_what_was_chosen():
    for r in st.ROWS:
        if r.measurable:
            assert r.dataset and r.model and r.choices, r.id
        else:
            assert len(r.unmeasurable) > 40 and r.model is None, r.id


def _parsed(cmd: str):
    words = shlex.split(cmd.replace("~", str(Path.home())))
    assert words[:2] == ["bakeoff", "compare"], cmd
    return build_parser().parse_args(words[1:])


@pytest.mark.parametrize("row", MEASURABLE, ids=lambda r: r.id)
def test_a_rows_command_builds_the_runs_the_benchmark_trains(row, tmp_path):
    options = st.row_options(row, None, None)
    seeds = [0, 1, 2]
    data_dir = str(ROOT.parent / "shared" / "datasets")
    cmd = st.command(row, options, seeds, data_dir, ROOT / "runs" / "seed-tables" / row.id)
    grid, out = grid_from_args(_parsed(cmd))
    ours = st.grid_of(row, options, seeds, data_dir)

    def runs(g):
        return [{**c.to_dict(), "data_dir": str((ROOT / c.data_dir).resolve())} for c in grid_runs(g)]
    assert runs(grid) == runs(ours)
    assert (ROOT / out).resolve() == (ROOT / "runs" / "seed-tables" / row.id).resolve()


@pytest.mark.parametrize("row", [r for r in st.ROWS if r.would_measure], ids=lambda r: r.id)
def test_the_command_that_would_measure_a_row_is_a_valid_grid(row):
    grid, _ = grid_from_args(_parsed(row.would_measure))
    assert grid_runs(grid)  # validates every configuration (no file is read)


def test_the_sweep_is_one_grid_over_optimizers_and_learning_rates():
    """Its report then has the optimizer x learning-rate heatmap (report/training.py: sweep) and, with more
    than one configuration, the significance section."""
    sweeps = [r for r in st.ROWS if r.sweep]
    assert [r.id for r in sweeps] == ["001-optimizer-sweep"]
    grid = st.grid_of(sweeps[0], st.row_options(sweeps[0], None, None), [0, 1, 2], "data")
    assert set(grid.swept()) == {"optimizers", "lrs", "seeds"}
    assert {c.optimizer for c in grid_runs(grid)} == {"adam", "rmsprop", "adadelta"}


def test_every_measurable_row_has_a_cost_estimate():
    for r in MEASURABLE:
        seconds = st.estimate_seconds(r, st.row_options(r, None, None), [0, 1, 2])
        assert seconds is not None and seconds > 0, r.id

"""Every flag of compare, train, evaluate and report, drawn from its domain and from just outside it
(hypothesis): the command either works (exit 0) or says what is wrong in exactly one stderr line and exits 2.
Never a traceback, whatever the combination.

Kept to seconds: at most 30 training images, one epoch, the mlp; the report of a compare is stubbed out
(report.py has its own tests), and one finished run, trained once, serves evaluate and report.
"""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.cli import main

# CI replays the same examples (derandomize); BAKEOFF_FUZZ_EXAMPLES=500 hunts with fresh ones for longer.
HUNT = int(os.environ.get("BAKEOFF_FUZZ_EXAMPLES", 0))
PROPERTY = settings(max_examples=HUNT or 25, derandomize=not HUNT, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
BAD_NUMBERS = ["-1", "nan", "inf", "x", "1e999", str(2**64), ""]

# flag -> values in its domain, then values just outside it
COMMON = {
    "--dataset": (["digits"], ["nope", "arrays:/no/such.npz", "folder:/no/such", "digits:x"]),
    "--img-size": (["8", "12"], ["0", "3", "513", "1.5", *BAD_NUMBERS]),
    "--train-subset": (["20", "30"], ["0", "1.5", *BAD_NUMBERS]),
    "--val-fraction": (["0.1", "0.2"], ["1", "-0.1", "0.9999999", *BAD_NUMBERS]),
}
TRAINING = {
    "--epochs": (["1"], ["0", "1.5", *BAD_NUMBERS]),
    "--batch-size": (["16", "32"], ["0", *BAD_NUMBERS]),
    "--weight-decay": (["0", "1e-4"], BAD_NUMBERS),
    "--label-smoothing": (["0", "0.1"], ["1", *BAD_NUMBERS]),
    "--momentum": (["0", "0.9"], ["1", *BAD_NUMBERS]),
    "--schedule": (["none", "cosine", "onecycle"], ["bogus", ""]),
    "--patience": (["1", "3"], ["0", *BAD_NUMBERS]),
    "--device": (["cpu", "auto"], ["tpu", "cuda:x", ""]),
    "--precision": (["fp32", "auto"], ["fp64", ""]),
    "--denoise": (["0"], ["11", *BAD_NUMBERS]),
    "--latent-dim": (["8"], ["0", "65537", *BAD_NUMBERS]),
}
GRID = {
    "--models": (["mlp"], ["bogus", "", ",", "mlp,,"]),
    "--optimizers": (["adam", "sgd", "adam,sgd"], ["bogus", ""]),
    "--lrs": (["1e-3", "0.01"], ["0", "1e-3,x", *BAD_NUMBERS]),
    "--seeds": (["0", "1", str(2**32 - 1)], ["-1", str(2**32), str(2**70), "1.5", "0,x"]),
}
ONE_RUN = {
    "--model": (["mlp"], ["bogus", ""]),
    "--optimizer": (["adam", "rmsprop"], ["bogus"]),
    "--lr": (["1e-3"], ["0", *BAD_NUMBERS]),
    "--seed": (["0", "7"], ["-1", str(2**32), str(2**70), "1.5"]),
}
# overridden by the flags drawn after them
FIXED = ["--models", "mlp", "--epochs", "1", "--train-subset", "30", "--no-robustness", "--quiet"]


def flags(table: dict) -> st.SearchStrategy[list[str]]:
    """A few flags of `table`, each with a value inside or just outside its domain."""
    def one(flag):
        good, bad = table[flag]
        return st.sampled_from(good + bad).map(lambda v: [f"{flag}={v}"])

    return st.lists(st.sampled_from(sorted(table)), max_size=3, unique=True).flatmap(
        lambda chosen: st.tuples(*[one(f) for f in chosen]).map(lambda parts: [a for p in parts for a in p]))


def exits_cleanly(argv: list[str], capsys) -> int:
    """Run the CLI in-process; exit 0, or exit 2 with exactly one line on stderr (any exception fails the test)."""
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's usage errors
        rc = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, (argv, err)
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:
        assert len(lines) == 1, (argv, err)
    return rc


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """An output folder, a file, a path under a file and a too-long name, plus one finished run."""
    root = tmp_path_factory.mktemp("cli")
    (root / "a-file").write_text("not a folder")
    finished = root / "finished"
    with pytest.MonkeyPatch.context() as mp:
        stub_report(mp)  # test_report_places builds it
        assert main(["train", "--model", "mlp", "--epochs", "1", "--train-subset", "30", "--no-robustness",
                     "--out", str(finished), "--quiet"]) == 0
    return {"out": str(root / "out"), "file": str(root / "a-file"), "under-file": str(root / "a-file" / "x"),
            "long": str(root / ("a" * 300)), "null": "/dev/null", "finished": str(finished),
            "run": str(next(p for p in finished.iterdir() if (p / "best.pt").is_file()))}


def stub_report(mp) -> None:
    import bakeoff.report

    mp.setattr(bakeoff.report, "build_report", lambda out, *args, **kwargs: Path(out) / "report.html")


@pytest.fixture
def no_report(monkeypatch):
    stub_report(monkeypatch)


@PROPERTY
@given(data=st.data())
def test_compare_flags(data, places, no_report, capsys):
    argv = ["compare", *FIXED, *data.draw(flags({**COMMON, **TRAINING, **GRID}))]
    argv += ["--out", places[data.draw(st.sampled_from(["out", "out", "file", "under-file", "long", "null"]))]]
    exits_cleanly(argv, capsys)


@PROPERTY
@given(data=st.data())
def test_train_flags(data, places, no_report, capsys):
    argv = ["train", *[a for a in FIXED if a != "--models" and a != "mlp"], *data.draw(flags({**COMMON, **TRAINING,
                                                                                             **ONE_RUN}))]
    exits_cleanly(argv + ["--out", places["out"]], capsys)


@PROPERTY
@given(checkpoint=st.sampled_from(["run", "file", "under-file", "long", "null", "out"]),
       extra=flags({**COMMON, "--device": (["cpu", "auto"], ["tpu", "cuda:x", ""]), "--json": ([""], [])}))
def test_evaluate_flags(checkpoint, extra, places, capsys):
    extra = [a.rstrip("=") for a in extra]  # --json takes no value
    exits_cleanly(["evaluate", places[checkpoint], *extra], capsys)


@settings(PROPERTY, max_examples=HUNT or 4)
@given(out=st.sampled_from(["finished", "file", "under-file", "long", "null", "out"]))
def test_report_places(out, places, capsys):
    exits_cleanly(["report", places[out]], capsys)


def test_the_tables_hold_values_both_inside_and_outside_each_domain():
    for table in (COMMON, TRAINING, GRID, ONE_RUN):
        for flag, (good, bad) in table.items():
            assert good and bad, flag
            assert not set(good) & set(bad), flag


@pytest.mark.parametrize("bad", [["--seeds", "-1"], ["--seeds", str(2**64)], ["--seeds", str(2**70)],
                                 ["--momentum", "-1"], ["--momentum", "nan"], ["--lrs", "nan"],
                                 ["--epochs", "0"], ["--epochs", str(2**64)],  # 2**64 epochs trained "forever"
                                 ["--batch-size", str(2**64)], ["--val-fraction", "inf"],
                                 ["--dataset", "folder:/no/such"]])
def test_each_flag_just_outside_its_domain_is_one_line_exit_2(bad, places, capsys):
    assert exits_cleanly(["compare", *FIXED, *bad, "--out", places["out"]], capsys) == 2


@pytest.mark.parametrize("out", ["file", "under-file", "long", "null"])
def test_an_out_that_cannot_be_a_folder_is_one_line_exit_2(out, places, capsys):
    assert exits_cleanly(["train", "--epochs", "1", "--train-subset", "30", "--quiet", "--out", places[out]],
                         capsys) == 2


def test_a_learning_rate_that_breaks_the_weights_at_once_is_a_failed_run_not_a_traceback(places, no_report, capsys):
    # 2**64: the first step makes the weights NaN, so no epoch has a finite validation loss to keep
    out = Path(places["out"]) / "huge-lr"
    assert exits_cleanly(["compare", *FIXED, "--lrs", str(2**64), "--out", str(out)], capsys) == 0
    assert "validation loss was never finite" in (out / "leaderboard.csv").read_text()

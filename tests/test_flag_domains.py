"""Flags of serve, predict, export and evaluate outside their domain: one line naming the flag, exit 2, before
anything loads (the paths below need not exist)."""
import contextlib
import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff.cli import main

CASES = [
    (["serve", "runs", "--port", "70000"], "--port must be in 1..65535"),
    (["serve", "runs", "--port", "-1"], "--port must be in 1..65535"),
    (["serve", "runs", "--threads", "0"], "--threads must be in 1..256"),
    (["serve", "runs", "--threads", "100000"], "--threads must be in 1..256"),
    (["serve", "runs", "--max-upload-mb", "nan"], "--max-upload-mb must be positive"),
    (["serve", "runs", "--max-upload-mb", "inf"], "--max-upload-mb must be positive"),
    (["serve", "runs", "--max-upload-mb", "-1"], "--max-upload-mb must be positive"),
    (["serve", "runs", "--max-upload-mb", "1e6"], "at most 500"),
    (["serve", "runs", "--port", "x"], "--port"),  # argparse's own type check
    (["evaluate", "runs/x", "--device", "tpu"], "unknown device 'tpu'; choose from: auto, cpu, cuda"),
    (["evaluate", "runs/x", "--device", "cuda:0"], "unknown device 'cuda:0'"),
    (["predict", "runs/x", "a.png", "--top-k", "0"], "runs/x"),  # the checkpoint is read first
    (["export", "runs/x", "--format", "tflite"], "unknown format 'tflite'"),
]


@pytest.mark.parametrize("args,text", CASES, ids=[" ".join(a[2:]) or a[0] for a, _ in CASES])
def test_out_of_domain_flags_are_one_line_and_exit_2(args, text, capsys):
    try:
        rc = main(args)
    except SystemExit as e:  # argparse's usage errors exit from inside parse_args
        rc = e.code
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert text in err, err


NUMBERS = st.one_of(st.integers(-2**40, 2**40), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["", "x", "1e400", "0x10", "-0"]))


@settings(max_examples=60, deadline=None)
@given(port=NUMBERS, threads=NUMBERS, upload=NUMBERS, memory=NUMBERS)
def test_any_serve_numbers_are_one_line_and_exit_2(port, threads, upload, memory):
    """Whatever the numbers, serve on a path that does not exist ends in one line and exit 2: the line names the
    first flag out of its domain, or (all in it) the path; never a traceback, never a server started."""
    args = ["serve", "/nonexistent/runs", "--port", str(port), "--threads", str(threads),
            "--max-upload-mb", str(upload), "--decode-memory-mb", str(memory)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(args)
        except SystemExit as e:
            rc = e.code
    text = err.getvalue()
    assert rc == 2 and len(text.splitlines()) == 1 and "Traceback" not in text, (args, text)

    def whole(v, low, high):
        return isinstance(v, int) and low <= v <= high

    def amount(v, low, high):
        try:
            f = float(v)
        except ValueError:
            return False
        return math.isfinite(f) and low < f <= high if low == 0 else math.isfinite(f) and low <= f <= high

    if whole(port, 1, 65535) and whole(threads, 1, 256) and amount(upload, 0, 500) and amount(memory, 32, 2**20):
        assert "/nonexistent/runs" in text or "cannot listen" in text, text

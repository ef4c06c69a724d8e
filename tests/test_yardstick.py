"""The benchmarks' yardstick (bench/yardstick.py, bench/matmul_peak.py): a quick measurement of this machine's peak,
and times normalized to the 420 GFLOP/s reference."""
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # as when a bench script runs
import yardstick  # noqa: E402
from matmul_peak import fraction_of_peak, matmul_gflops  # noqa: E402
from yardstick import REFERENCE_GFLOPS, measure_yardstick, normalized_seconds, yardstick_fields  # noqa: E402


def test_normalized_seconds_scale_by_the_peak_over_the_reference():
    assert REFERENCE_GFLOPS == 420.0
    assert normalized_seconds(100.0, 420.0) == pytest.approx(100.0)        # the reference machine itself
    assert normalized_seconds(166.0, 210.0) == pytest.approx(83.0)         # half as fast: half the time counts
    assert normalized_seconds(50.0, 880.0) == pytest.approx(50.0 * 880 / 420)  # faster: counts as longer
    assert normalized_seconds(10.0, 300.0, reference=600.0) == pytest.approx(5.0)


@pytest.mark.parametrize("peak", [0.0, -1.0, math.nan, math.inf])
def test_a_peak_that_is_not_a_positive_number_is_refused(peak):
    with pytest.raises(ValueError, match="positive"):
        normalized_seconds(10.0, peak)


def test_the_measurement_is_a_positive_finite_peak_in_the_precision_training_uses():
    y = measure_yardstick(sizes=(64, 96), repeats=2, warmup=1)  # tiny: milliseconds, no timing asserted
    assert math.isfinite(y["gflops"]) and y["gflops"] > 0
    assert y["precision"] == ("bf16" if y["bf16_native"] else "fp32")
    assert y["sizes"] == [64, 96] and y["repeats"] == 2 and y["threads"] >= 1


def test_without_native_bf16_the_fp32_peak_is_the_yardstick(monkeypatch):
    monkeypatch.setattr(yardstick, "cpu_has_bf16", lambda: False)
    y = measure_yardstick(sizes=(64,), repeats=1, warmup=1)
    assert y["precision"] == "fp32" and not y["bf16_native"]
    assert "no native bf16" in yardstick.describe(y)


def test_the_json_keys_name_the_precision_measured():
    assert yardstick_fields(419.04, "bf16") == {"peak_bf16_gflops": 419.0, "peak_precision": "bf16",
                                                "reference_gflops": 420.0}
    assert "peak_fp32_gflops" in yardstick_fields(197.0, "fp32")


def test_matmul_peak_is_measured_and_throughput_read_against_it():
    assert matmul_gflops(64, torch.float32, repeats=2, warmup=1) > 1.0  # any CPU of this century, one core
    peak = {"fp32_gflops": 200.0, "bf16_gflops": 400.0}
    assert fraction_of_peak(100.0, "bf16", peak) == pytest.approx(0.25)
    assert fraction_of_peak(100.0, "fp32", peak) == pytest.approx(0.5)

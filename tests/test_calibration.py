"""Calibration: ECE against a hand-computed value and torchmetrics, temperature scaling on an over-confident model."""
import math

import pytest
import torch
import torch.nn as nn

from bakeoff.analysis.calibration import N_BINS, calibrate, expected_calibration_error, fit_temperature, nll, reliability


def test_ece_matches_a_hand_computed_value():
    probs = torch.tensor([[0.90, 0.05, 0.03, 0.02],  # confidence 0.90, right: bin 13 (13/15, 14/15]
                          [0.90, 0.05, 0.03, 0.02],  # confidence 0.90, wrong: bin 13
                          [0.10, 0.65, 0.15, 0.10],  # confidence 0.65, right: bin 9
                          [0.30, 0.25, 0.25, 0.20]], dtype=torch.float64)  # confidence 0.30, wrong: bin 4
    labels = torch.tensor([0, 1, 1, 2])
    # bin 13: 2/4 x |0.5 - 0.9|; bin 9: 1/4 x |1 - 0.65|; bin 4: 1/4 x |0 - 0.3|
    expected = 0.5 * 0.4 + 0.25 * 0.35 + 0.25 * 0.3
    assert expected_calibration_error(probs, labels) == pytest.approx(expected, abs=1e-12)
    bins = reliability(probs, labels)
    assert bins["count"][13] == 2 and bins["count"][9] == 1 and bins["count"][4] == 1 and sum(bins["count"]) == 4
    assert bins["accuracy"][13] == 0.5 and bins["confidence"][9] == pytest.approx(0.65)
    assert bins["accuracy"][0] is None  # empty bins say so, they are not zeros


def test_a_confidence_on_a_bin_edge_goes_to_the_lower_bin():
    probs = torch.tensor([[0.5, 0.5], [1.0, 0.0]])  # 4 bins, edges exact in binary: 0.5 tops bin 1, 1.0 bin 3
    bins = reliability(probs, torch.tensor([0, 0]), n_bins=4)
    assert bins["count"] == [0, 1, 0, 1]


def test_ece_agrees_with_torchmetrics():
    functional = pytest.importorskip("torchmetrics.functional.classification")
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(2000, 10, generator=gen)
    labels = torch.randint(0, 10, (2000,), generator=gen)
    probs = torch.softmax(logits, 1)
    reference = functional.multiclass_calibration_error(probs, labels, num_classes=10, n_bins=N_BINS, norm="l1")
    assert expected_calibration_error(probs, labels) == pytest.approx(reference.item(), abs=1e-5)


def _overconfident_model():
    """Three Gaussian classes in 2-D and a linear classifier pointing at their means, its logits x 8:
    it ranks the classes well but is far surer of itself than it is right."""
    gen = torch.Generator().manual_seed(1)
    means = torch.tensor([[0.0, 1.0], [1.0, -0.5], [-1.0, -0.5]])
    y = torch.randint(0, 3, (3000,), generator=gen)
    x = means[y] + 0.8 * torch.randn(3000, 2, generator=gen)
    model = nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.copy_(8 * means)
        model.bias.copy_(-4 * (means ** 2).sum(1))  # the nearest mean wins, as in LDA with equal covariances
    return model, x, y


def test_temperature_scaling_lowers_validation_nll_of_an_overconfident_model():
    model, x, y = _overconfident_model()
    with torch.no_grad():
        logits = model(x)
    val, test = slice(0, 1500), slice(1500, None)
    t = fit_temperature(logits[val], y[val])
    assert t > 2  # over-confident: the logits must shrink
    assert nll(logits[val], y[val], t) < nll(logits[val], y[val]) - 0.1
    metrics, bins = calibrate(logits[val], y[val], logits[test], y[test])
    assert metrics["temperature"] == pytest.approx(t)
    assert metrics["ece_calibrated"] < metrics["ece"] / 2  # and it carries over to the test split
    assert metrics["nll_calibrated"] < metrics["nll"]
    assert metrics["val_nll_calibrated"] < metrics["val_nll"]
    assert sum(bins["before"]["count"]) == sum(bins["after"]["count"]) == 1500


def test_fitted_temperature_recovers_a_known_one():
    """Labels drawn from softmax(z) make z calibrated; given z x 3, the fit must find T close to 3."""
    gen = torch.Generator().manual_seed(2)
    z = 2 * torch.randn(20000, 5, generator=gen)
    y = torch.multinomial(torch.softmax(z, 1), 1, generator=gen)[:, 0]
    assert fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(z, y) == pytest.approx(1.0, rel=0.05)


def test_without_validation_images_nothing_is_fitted():
    logits = torch.randn(50, 4)
    labels = torch.randint(0, 4, (50,))
    metrics, _ = calibrate(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), logits, labels)
    assert metrics["temperature"] == 1.0 and metrics["ece"] == metrics["ece_calibrated"]
    assert "val_nll" not in metrics and math.isfinite(metrics["nll"])


def test_fitting_works_under_inference_mode():
    """analysis/finished.py collects logits without gradients; the fit must still get its own."""
    model, x, y = _overconfident_model()
    with torch.inference_mode():
        logits = model(x)
    assert fit_temperature(logits.clone(), y) > 2

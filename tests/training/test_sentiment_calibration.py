"""Temperature scaling and the binary calibration error, on synthetic and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from training.sentiment import calibration


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 4.0, size=20_000)
    # labels drawn from sigmoid(logit / 2.5): the logits are 2.5 times too confident
    labels = (rng.random(logits.shape) < 1.0 / (1.0 + np.exp(-logits / 2.5))).astype(int)
    fitted = calibration.fit_temperature(logits, labels, "sigmoid")
    assert fitted == pytest.approx(2.5, rel=0.05)
    nll = calibration.negative_log_likelihood
    assert nll(logits / fitted, labels, "sigmoid") < nll(logits, labels, "sigmoid")


def test_fit_temperature_softmax_sharpens_underconfident_logits() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0.0, 1.0, size=(5000, 3))
    true_logits = logits * 3.0  # the data follow logits / (1 / 3)
    probs = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    assert calibration.fit_temperature(logits, labels, "softmax") == pytest.approx(1 / 3, rel=0.1)


def test_fit_temperature_with_one_class_or_nothing_is_neutral() -> None:
    assert calibration.fit_temperature(np.array([1.0, 2.0]), np.array([1, 1]), "sigmoid") == 1.0
    assert calibration.fit_temperature(np.zeros((0, 3)), np.array([]), "softmax") == 1.0


def test_negative_log_likelihood_matches_hand_computation() -> None:
    assert calibration.negative_log_likelihood(
        np.array([0.0]), np.array([1]), "sigmoid"
    ) == pytest.approx(np.log(2.0))
    assert calibration.negative_log_likelihood(
        np.array([[0.0, 0.0, 0.0]]), np.array([2]), "softmax"
    ) == pytest.approx(np.log(3.0))


def test_binary_ece() -> None:
    # bin (0.8, 0.9]: mean p 0.9, positives 1/2 -> gap 0.4; bin (0.1, 0.2]: mean p 0.2, 0/2 -> 0.2
    probs = np.array([0.9, 0.9, 0.2, 0.2])
    labels = np.array([1, 0, 0, 0])
    assert calibration.binary_ece(probs, labels) == pytest.approx(0.5 * 0.4 + 0.5 * 0.2)
    # calibrated within each bin: no error; 0 and 1 fall into the end bins
    assert calibration.binary_ece(np.array([0.25, 0.25, 0.25, 0.25]), [1, 0, 0, 0]) == 0.0
    assert calibration.binary_ece(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0
    assert calibration.binary_ece(np.array([]), np.array([])) == 0.0


def test_calibration_halves_are_seeded_disjoint_and_complete() -> None:
    items = list(range(41))
    fit, report = calibration.calibration_halves(items, seed=7)
    assert (fit, report) == calibration.calibration_halves(items, seed=7)
    assert len(fit) == 20 and len(report) == 21
    assert sorted(fit + report) == items
    assert fit != items[:20]  # shuffled, not the first rows
    assert calibration.calibration_halves(items, seed=8) != (fit, report)

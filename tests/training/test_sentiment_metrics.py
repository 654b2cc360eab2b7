"""Scoring math of the sentiment evaluation, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from handoff.sentiment.classifier import sigmoid, softmax
from training.sentiment import evaluate
from training.sentiment.data import GoEmotionsRow, SentimentExample
from training.sentiment.evaluate import Logits, Predictions


def test_macro_recall() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    # recalls: class 0 1/2, class 1 2/2, class 2 0/2 -> mean 0.5
    assert evaluate.macro_recall(y_true, y_pred, 3) == pytest.approx(0.5)
    # a class missing from the gold labels does not count
    assert evaluate.macro_recall(np.array([0, 1]), np.array([0, 0]), 3) == pytest.approx(0.5)


def test_binary_prf() -> None:
    y_true = np.array([1, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 0, 1, 0])
    p, r, f1 = evaluate.binary_prf(y_true, y_pred)
    assert (p, r) == pytest.approx((2 / 3, 2 / 3))
    assert f1 == pytest.approx(2 / 3)
    assert evaluate.binary_prf(np.array([1, 0]), np.array([0, 0])) == (0.0, 0.0, 0.0)


def test_best_threshold_and_half_tuning() -> None:
    y_true = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.3, 0.35, 0.9])
    assert evaluate.best_threshold(y_true, scores) == pytest.approx(0.35)
    threshold, f1 = evaluate.half_tuned_f1(np.array([0, 1, 0, 1]), np.array([0.2, 0.6, 0.1, 0.7]))
    assert threshold == pytest.approx(0.6) and f1 == pytest.approx(1.0)


def test_expected_calibration_error() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y_true = np.array([0, 1, 0, 0])
    # bin (0.8, 0.9]: conf 0.9, acc 0.5 -> 0.4 * 1/2; bin (0.5, 0.6]: conf 0.6, acc 1 -> 0.4 * 1/2
    assert evaluate.expected_calibration_error(probs, y_true) == pytest.approx(0.4)


def test_softmax_and_sigmoid() -> None:
    assert softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])) == pytest.approx(
        np.array([[0.5, 0.5], [1.0, 0.0]])
    )
    assert sigmoid(np.array([0.0])) == pytest.approx([0.5])


def test_goemotions_negative_vs_rest_counts_mixed_comments_as_negative() -> None:
    rows = [
        GoEmotionsRow("a", frozenset({"anger"})),
        GoEmotionsRow("b", frozenset({"joy", "sadness"})),  # mixed: gold negative
        GoEmotionsRow("c", frozenset({"neutral"})),
        GoEmotionsRow("d", frozenset({"joy"})),
    ]
    polarity = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.2, 0.6], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    )  # predicted: negative, positive, negative, positive
    frustration = np.array([[0.9, 0.0], [0.1, 0.0], [0.6, 0.0], [0.2, 0.0]])
    scores = evaluate.score_goemotions(Predictions(polarity, frustration), rows)
    # negative vs rest: tp 1 (a), fp 1 (c), fn 1 (b) -> P = R = F1 = 0.5
    assert scores["negative_vs_rest_f1"] == pytest.approx(0.5)
    # frustration: gold only a; predicted a and c -> P 0.5, R 1, F1 2/3
    assert scores["frustration_f1"] == pytest.approx(0.6667)
    # polarity accuracy over the three labelled rows (b is mixed): a, d right; c wrong
    assert scores["polarity_accuracy"] == pytest.approx(0.6667)


def test_flat_and_table() -> None:
    metrics = {"x": {"n": 3, "f1": 0.5}}
    assert evaluate.flat(metrics) == {"x.n": 3, "x.f1": 0.5}
    table = evaluate.format_table(
        {
            evaluate.Precision.FLOAT32: {"x.n": 3, "x.f1": 0.5},
            evaluate.Precision.INT8: {"x.n": 3, "x.f1": 0.49},
        }
    )
    header, n_row, f1_row = table.splitlines()
    assert header.split() == ["metric", "float32", "int8", "diff", "pt"]
    assert f1_row.split() == ["x.f1", "0.5000", "0.4900", "-1.00"]
    assert n_row.split() == ["x.n", "3.0000"]


def test_drops_in_points_covers_the_main_metrics() -> None:
    reference = {key: 0.8 for key in evaluate.MAIN_METRICS}
    other = {key: 0.79 for key in evaluate.MAIN_METRICS}

    drops = evaluate.drops_in_points(reference, other)

    assert drops == {key: 1.0 for key in evaluate.MAIN_METRICS}


def test_calibrated_divides_each_head_by_its_temperature() -> None:
    logits = Logits(np.array([[2.0, 0.0, 0.0]]), np.array([[2.0, -4.0]]))
    plain = evaluate.calibrated(logits, {})
    assert plain.auxiliary == pytest.approx(sigmoid(np.array([[2.0, -4.0]])))
    scaled = evaluate.calibrated(logits, {"polarity": 2.0, "frustration": 2.0, "irony": 4.0})
    assert scaled.polarity == pytest.approx(softmax(np.array([[1.0, 0.0, 0.0]])))
    assert scaled.auxiliary == pytest.approx(sigmoid(np.array([[1.0, -1.0]])))


def test_score_in_domain_reports_calibration_on_the_report_part_only() -> None:
    examples = [
        SentimentExample("a", polarity=0, frustration=1, irony=1),
        SentimentExample("b", polarity=0, frustration=1),
        SentimentExample("c", polarity=2, frustration=0),
        SentimentExample("d", polarity=1, frustration=0),
    ]
    polarity = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]])
    auxiliary = np.array([[0.9, 0.7], [0.3, 0.0], [0.35, 0.0], [0.05, 0.0]])
    scores = evaluate.score_in_domain(Predictions(polarity, auxiliary), examples, [2, 3])
    assert scores["polarity_accuracy"] == pytest.approx(0.75)
    # frustration at 0.5: only a predicted, of a and b -> P 1, R 0.5, F1 2/3
    assert scores["frustration_f1"] == pytest.approx(0.6667)
    # report part c, d: bins (0.3, 0.4] gap 0.35 and (0.0, 0.1] gap 0.05, each half the weight
    assert scores["frustration_ece_report_part"] == pytest.approx(0.2)
    assert scores["frustration_report_part_n"] == 2
    assert scores["irony_f1"] == pytest.approx(1.0) and scores["irony_positives"] == 1


def test_target_verdicts_know_which_way_is_better() -> None:
    reference = {key: 0.0 for key in evaluate.TARGETS}
    reference["tweeteval_sentiment.macro_recall"] = 0.75
    reference["in_domain.frustration_ece_report_part"] = 0.04
    verdicts = evaluate.target_verdicts(reference)
    assert verdicts["tweeteval_sentiment.macro_recall"]["met"] is True
    assert verdicts["in_domain.frustration_ece_report_part"]["met"] is True
    assert verdicts["goemotions.negative_vs_rest_f1"]["met"] is False
    reference["in_domain.frustration_ece_report_part"] = 0.06
    verdicts = evaluate.target_verdicts(reference)
    assert verdicts["in_domain.frustration_ece_report_part"]["met"] is False

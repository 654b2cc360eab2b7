"""NLU evaluation report: figures read from Rasa's output, threshold read from config.yml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.nlu_eval import fallback_threshold, scores_from_reports


def prediction(confidence: float) -> dict:
    return {
        "text": "x",
        "intent": "a",
        "intent_prediction": {"name": "a", "confidence": confidence},
    }


def test_scores_come_from_rasa_reports(tmp_path: Path) -> None:
    report = {
        "accuracy": 0.75,
        "macro avg": {"f1-score": 0.7, "support": 4},
        "weighted avg": {"f1-score": 0.72, "support": 4},
    }
    (tmp_path / "intent_report.json").write_text(json.dumps(report))
    (tmp_path / "intent_successes.json").write_text(
        json.dumps([prediction(0.9), prediction(0.3), prediction(0.8)])
    )
    (tmp_path / "intent_errors.json").write_text(json.dumps([prediction(0.2)]))
    scores = scores_from_reports(tmp_path, threshold=0.45, train_seconds=12.0)
    assert (scores.accuracy, scores.macro_f1, scores.examples) == (0.75, 0.7, 4)
    assert scores.below_fallback_threshold == 0.5


def test_threshold_is_the_configured_one(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: FallbackClassifier\n    threshold: 0.6\n")
    assert fallback_threshold(config) == 0.6
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n")
    with pytest.raises(ValueError, match="FallbackClassifier"):
        fallback_threshold(config)


def test_project_config_has_a_fallback_threshold() -> None:
    assert 0 < fallback_threshold(Path(__file__).resolve().parents[2] / "config.yml") < 1

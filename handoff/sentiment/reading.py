"""What the sentiment classifier says about one message, and what it refuses to read.

Pure Python: no torch, no transformers, so the batcher, the service and their tests can use these
types without loading a model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handoff.exceptions import HandoffError

logger = logging.getLogger(__name__)

# Rounding for the JSON form only: six decimals keep lines short and lose nothing a threshold
# on a probability could notice.
_JSON_DECIMALS = 6


class SentimentInputError(HandoffError, ValueError):
    """A message the classifier cannot score; ``str(error)`` says what to send instead."""


@dataclass(frozen=True, slots=True)
class SentimentReading:
    """The classifier's reading of one customer message.

    ``label`` is the most probable polarity, ``scores`` the probability of every polarity label
    (in the model's ``id2label`` order, summing to 1), ``frustration`` the probability that the
    customer is frustrated and ``irony`` that the message is ironic, or ``None`` when the model
    has no irony head.
    """

    label: str
    scores: dict[str, float]
    frustration: float
    irony: float | None = None

    def to_json_dict(self) -> dict[str, object]:
        """The reading as a JSON-ready dict: label, scores, frustration, and irony if modelled."""
        body: dict[str, object] = {
            "label": self.label,
            "scores": {name: round(p, _JSON_DECIMALS) for name, p in self.scores.items()},
            "frustration": round(self.frustration, _JSON_DECIMALS),
        }
        if self.irony is not None:
            body["irony"] = round(self.irony, _JSON_DECIMALS)
        return body


def validate_text(text: object) -> str:
    """Return ``text`` if it can be scored, else raise :class:`SentimentInputError`.

    Only non-empty text is accepted: an empty or whitespace-only message carries no sentiment,
    and scoring it would give a confident-looking reading of nothing.
    """
    if not isinstance(text, str):
        raise SentimentInputError(
            f"expected the customer's message as a str, got {type(text).__name__}: "
            "send the message text"
        )
    if not text.strip():
        raise SentimentInputError(
            "the message is empty or only whitespace: send the customer's message as non-empty text"
        )
    return text

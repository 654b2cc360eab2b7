"""What the escalation engine is told about a conversation: the current turn and earlier ones.

The gateway fills these from the assistant's parse result, the sentiment classifier and the
customer record. A measurement that is missing (no NLU result because the assistant was down,
no sentiment reading) is ``None``, and the triggers that need it simply do not fire, rather
than firing on a made-up default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from handoff.escalation.decision import Severity

NEGATIVE = "negative"
NEUTRAL = "neutral"
POSITIVE = "positive"
POLARITY_LABELS = (NEGATIVE, NEUTRAL, POSITIVE)
"""The sentiment classifier's polarity labels (its ``id2label``)."""


def _check_probability(name: str, value: float | None) -> None:
    if value is not None and not (0.0 <= value <= 1.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a probability from 0 to 1, got {value!r}")


def _check_label(label: str | None) -> None:
    if label is not None and label not in POLARITY_LABELS:
        raise ValueError(f"polarity label must be one of {POLARITY_LABELS}, got {label!r}")


@dataclass(frozen=True, slots=True)
class Polarity:
    """The classifier's polarity of one message: each label's probability and the top label."""

    label: str
    negative: float
    neutral: float
    positive: float

    def __post_init__(self) -> None:
        _check_label(self.label)
        for name in POLARITY_LABELS:
            _check_probability(f"polarity {name}", getattr(self, name))

    @classmethod
    def from_scores(cls, label: str, scores: Mapping[str, float]) -> Polarity:
        """Build from a :class:`~handoff.sentiment.reading.SentimentReading`'s label and scores."""
        missing = [name for name in POLARITY_LABELS if name not in scores]
        if missing:
            raise ValueError(f"polarity scores lack {missing}; got labels {sorted(scores)}")
        return cls(label, scores[NEGATIVE], scores[NEUTRAL], scores[POSITIVE])


@dataclass(frozen=True, slots=True)
class RasaSignal:
    """The assistant's own handoff: its reason code and the routing it suggests.

    ``reason`` is one of the assistant's codes (request_human, repeated_fallback,
    security_risk, possible_fraud, churn_risk, bot_error, ...). The category, severity and team
    are hints: the engine maps the category onto its own five and takes the hint's severity
    only where it is more severe than its own, and the team always comes from the matrix.
    """

    reason: str
    category: str | None = None
    severity: Severity | None = None
    team: str | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a Rasa signal needs a reason code")
        if self.severity is not None and not isinstance(self.severity, Severity):
            raise ValueError(f"severity must be a Severity, got {self.severity!r}")


@dataclass(frozen=True, slots=True)
class TurnSignals:
    """Everything known about the customer's current message.

    ``text`` is the message (searched for risk phrases); ``intent`` and ``confidence`` the
    assistant's top intent; ``polarity`` and ``frustration`` the sentiment classifier's reading;
    ``requested_human`` whether the customer explicitly asked for a person; ``rasa`` the
    assistant's handoff signal, if it sent one; ``bot_error`` a short description when the
    assistant was unreachable or failed on this turn, else ``None``; ``steps_attempted`` how
    many steps the assistant already took for the issue (card frozen, form sent, ...).
    """

    text: str = ""
    intent: str | None = None
    confidence: float | None = None
    polarity: Polarity | None = None
    frustration: float | None = None
    requested_human: bool = False
    rasa: RasaSignal | None = None
    bot_error: str | None = None
    steps_attempted: int = 0

    def __post_init__(self) -> None:
        _check_probability("confidence", self.confidence)
        _check_probability("frustration", self.frustration)
        if self.steps_attempted < 0:
            raise ValueError(f"steps_attempted must not be negative, got {self.steps_attempted}")
        if self.bot_error is not None and not self.bot_error.strip():
            raise ValueError("bot_error must describe the failure, or be None when there was none")


@dataclass(frozen=True, slots=True)
class PastTurn:
    """What the engine remembers of an earlier customer turn (see :func:`engine.past_turn`)."""

    intent: str | None = None
    confidence: float | None = None
    polarity: str | None = None  # the top polarity label, or None when not measured
    frustration: float | None = None

    def __post_init__(self) -> None:
        _check_probability("confidence", self.confidence)
        _check_probability("frustration", self.frustration)
        _check_label(self.polarity)

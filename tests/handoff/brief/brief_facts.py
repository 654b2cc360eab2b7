"""Small builders of the brief's inputs, shared by the brief tests (imported, not a fixture)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff.brief.builder import TranscriptEntry
from handoff.escalation.decision import EscalationDecision, ReasonHit
from handoff.sentiment.reading import SentimentReading

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

MakeDecision = Callable[..., EscalationDecision]
"""The type of the ``make_decision`` fixture."""

REQUEST_HUMAN = ReasonHit("request_human", True, None, "The customer asked for a person.", 1.0)


def at(minute: float) -> datetime:
    """``minute`` minutes into the test conversation."""
    return T0 + timedelta(minutes=minute)


def reading(frustration: float, negative: float | None = None) -> SentimentReading:
    """A reading whose negative probability follows the frustration unless given."""
    neg = frustration if negative is None else negative
    rest = (1 - neg) / 2
    scores = {"negative": neg, "neutral": rest, "positive": rest}
    return SentimentReading("negative" if neg >= 0.5 else "neutral", scores, frustration)


def said(
    seq: int,
    text: str,
    intent: str | None = None,
    frustration: float | None = None,
    confidence: float | None = 0.9,
) -> TranscriptEntry:
    """A customer message at minute ``seq``, with a reading when ``frustration`` is given."""
    return TranscriptEntry(
        seq=seq,
        sender="customer",
        text=text,
        at=at(seq),
        sentiment=None if frustration is None else reading(frustration),
        intent=intent,
        confidence=None if intent is None else confidence,
    )


def replied(seq: int, text: str) -> TranscriptEntry:
    """A bot message at minute ``seq``."""
    return TranscriptEntry(seq=seq, sender="bot", text=text, at=at(seq))


def step(name: str, outcome: str, minute: float = 0, summary: str = "") -> dict[str, Any]:
    """One attempted-steps slot entry, as the assistant sends it."""
    return {
        "action": f"action_{name}",
        "step": name,
        "outcome": outcome,
        "summary": summary or f"{name}: {outcome}",
        "at": at(minute).isoformat(),
    }

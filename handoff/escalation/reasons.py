"""The reason codes the escalation engine reports in :attr:`ReasonHit.code`.

They are stored with each handoff and shown to agents, so they are stable strings: add new ones,
never rename. ``data/escalation.yml`` documents each one next to its weight and severity.
"""

from __future__ import annotations

REQUEST_HUMAN = "request_human"
"""The customer asked for a person (the caller sets ``TurnSignals.requested_human``)."""

RISK_INTENT = "risk_intent"
"""The assistant understood a risk intent of the policy (a complaint, leaving, hardship, ...)
confidently enough; the hit's value is the intent and its confidence (:func:`intent_value`)."""

RISK_PHRASE = "risk_phrase"
"""The message contains a risk phrase of the policy; the hit's value is the phrase matched."""

HIGH_FRUSTRATION = "high_frustration"
"""Frustration at or above the customer's tier threshold."""

RISING_FRUSTRATION = "rising_frustration"
"""Frustration rose steeply over the last turns and is above a floor."""

NEGATIVE_POLARITY = "negative_polarity"
"""The probability that this message is negative is at or above the threshold."""

SUSTAINED_NEGATIVE = "sustained_negative"
"""Polarity labelled negative for several customer turns in a row."""

REPEATED_FALLBACK = "repeated_fallback"
"""The assistant failed to understand several turns in a row (fallback or low confidence)."""

LOW_CONFIDENCE = "low_confidence"
"""The assistant's intent confidence for this turn is below the threshold."""

UNRESOLVED_FRUSTRATION = "unresolved_frustration"
"""The assistant answered a frustrated customer (see :data:`ANSWER_FIRST`) and their reply
neither took the answer nor asked something it understood: the answer did not help."""

INTENT_LOOP = "intent_loop"
"""The same topic intent in the customer's last turns: the issue is going round unresolved."""

RASA_SIGNAL = "rasa_signal"
"""The assistant itself handed over; the hit's value is its own reason (e.g. possible_fraud)."""

BOT_ERROR = "bot_error"
"""The assistant was unreachable or failed on this turn."""

PREMIUM_TIER = "premium_tier"
"""A modifier, never a trigger: the customer's tier raised the severity or warmed the handoff."""

ANSWER_FIRST = "answer_first"
"""A modifier, never a trigger: the assistant understood the question of a customer who sounds
annoyed but was not frustrated before, so it answers first and the policy's tone triggers on
this turn were held (reported with weight 0)."""

TRIGGER_CODES: tuple[str, ...] = (
    REQUEST_HUMAN,
    RISK_INTENT,
    RISK_PHRASE,
    HIGH_FRUSTRATION,
    RISING_FRUSTRATION,
    NEGATIVE_POLARITY,
    SUSTAINED_NEGATIVE,
    REPEATED_FALLBACK,
    LOW_CONFIDENCE,
    UNRESOLVED_FRUSTRATION,
    INTENT_LOOP,
    RASA_SIGNAL,
    BOT_ERROR,
)
"""Codes of the triggers, each configured under ``triggers:`` in the policy."""

MODIFIER_CODES: tuple[str, ...] = (PREMIUM_TIER, ANSWER_FIRST)
"""Codes that explain a decision without being a reason to hand over (weight 0)."""

REASON_CODES: tuple[str, ...] = (*TRIGGER_CODES, *MODIFIER_CODES)
"""Every code a :class:`ReasonHit` can carry."""


def intent_value(intent: str, confidence: float) -> str:
    """The value of a ``risk_intent`` hit: the intent and its confidence, "leave_bank 0.93".

    One string, so that the hit keeps the shape of every other (one value, one threshold); the
    threshold is the intent's minimum confidence. Intent names never contain a space.
    """
    return f"{intent} {confidence:.2f}"


def intent_of(value: object) -> str | None:
    """The intent of a ``risk_intent`` hit's value (see :func:`intent_value`), else ``None``."""
    if not isinstance(value, str):
        return None
    intent, _, confidence = value.strip().rpartition(" ")
    try:
        float(confidence)
    except ValueError:
        return None
    return intent or None

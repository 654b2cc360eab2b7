"""Builds the handoff brief from the conversation's facts and the engine's decision.

Pure: no database, no clock, no randomness. The caller (the gateway) loads the transcript and
the customer into the plain types below, passes ``now``, and gets back a :class:`HandoffBrief`
whose summary is composed from the same facts by fixed rules, so the same inputs always give
the same brief, word for word.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeGuard

from pydantic import ValidationError

from handoff.brief.schema import (
    SCHEMA_VERSION,
    AttemptedStepBrief,
    CustomerBrief,
    EntityBrief,
    HandoffBrief,
    IntentPoint,
    MessageSentiment,
    ReasonBrief,
    Sender,
    SentimentPoint,
    SlaBrief,
    StepOutcome,
    TranscriptMessage,
)
from handoff.escalation import reasons as reason_codes
from handoff.escalation.decision import EscalationDecision, ReasonHit, SlaTargets, Tier
from handoff.exceptions import HandoffError
from handoff.sentiment.reading import SentimentReading

logger = logging.getLogger(__name__)


class BriefInputError(HandoffError, ValueError):
    """Facts a brief cannot be built from; ``str(error)`` says what to send instead."""


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One message of the conversation, as the gateway stored it.

    ``sentiment``, ``intent`` and ``confidence`` belong to customer messages only, and are
    ``None`` where the message was not scored or no intent was recognised.
    """

    seq: int
    sender: Sender
    text: str
    at: datetime
    sentiment: SentimentReading | None = None
    intent: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """Who the customer is; ``id`` and ``name`` are ``None`` for a customer not signed in."""

    id: str | None
    name: str | None
    tier: Tier


ANONYMOUS = CustomerInfo(id=None, name=None, tier=Tier.STANDARD)
"""A customer who is not signed in (anonymous customers get the standard tier's thresholds)."""

# Intents that say nothing about what the customer needs; never chosen as the topic. The
# customer-care intents (a complaint, leaving, hardship) say how the customer feels, and the
# summary's "because" already says so.
_NO_TOPIC_INTENTS = frozenset(
    {
        "greet",
        "goodbye",
        "affirm",
        "deny",
        "thank",
        "bot_challenge",
        "request_human",
        "out_of_scope",
        "nlu_fallback",
        "complain_about_assistant",
        "complain_about_service",
        "leave_bank",
        "make_formal_complaint",
        "financial_hardship",
    }
)

# step -> (what was done, what was tried): "froze the card (done)", "tried to freeze the card
# (not found)". Step names as in actions/.
_STEP_PHRASES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "card_delivery_status": (
            "checked the card's delivery status",
            "check the card's delivery status",
        ),
        "freeze_card": ("froze the card", "freeze the card"),
        "advise_freeze": ("advised freezing the card", "advise freezing the card"),
        "card_status": ("checked the card's status", "check the card's status"),
        "account_overview": ("looked up the account overview", "look up the account overview"),
        "tier_limits": ("explained the tier's limits", "explain the tier's limits"),
        "top_up_status": ("checked the top-up", "check the top-up"),
        "card_payment_status": ("checked a card payment", "check a card payment"),
        "cash_withdrawal_status": ("checked a cash withdrawal", "check a cash withdrawal"),
        "review_unrecognised_payments": (
            "listed the recent payments for review",
            "list the recent payments for review",
        ),
        "refund_status": ("checked the refund", "check the refund"),
        "transfer_status": ("checked the transfer", "check the transfer"),
        "cancel_transfer": ("cancelled the pending transfer", "cancel the pending transfer"),
        "ask_rephrase": ("asked the customer to rephrase", "ask the customer to rephrase"),
        "understand_message": (
            "understood the customer's messages",
            "understand the customer's messages",
        ),
    }
)
_SUCCESSFUL = frozenset({StepOutcome.DONE, StepOutcome.INFO})
_OUTCOME_WORDS: Mapping[StepOutcome, str] = MappingProxyType(
    {
        StepOutcome.DONE: "done",
        StepOutcome.FAILED: "failed",
        StepOutcome.INFO: "info",
        StepOutcome.NEEDS_SIGN_IN: "needs sign-in",
        StepOutcome.NOT_FOUND: "not found",
    }
)
_FRAUD_REPORTED = "the customer reports fraud, a scam or someone else in their account"
# Why the assistant handed over (its own reason codes, actions/escalation.py), for agents. The
# engine reports them as the value of a rasa_signal hit; older signals used them as codes.
_ASSISTANT_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "request_human": "the customer asked for a person",
        "security_risk": "the customer reports a compromised card",
        "possible_fraud": "the customer does not recognise a payment",
        "churn_risk": "the customer wants to close their account",
        "bot_error": "the assistant could not reach the bank's systems",
        "repeated_fallback": "the assistant could not help the customer twice in a row",
        "assistant_complaint": "the customer says the assistant is not helping",
        "service_complaint": "the customer complains about our service",
        "leaving_bank": "the customer says they will leave us",
        "formal_complaint": "the customer wants to make a formal complaint",
        "financial_hardship": "the customer describes financial hardship",
        "fraud_report": _FRAUD_REPORTED,
    }
)
# What the customer said, by the intent of a risk_intent hit (the policy's risk_intents).
_RISK_INTENT_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "complain_about_assistant": "the customer says the assistant is not helping",
        "complain_about_service": "the customer complains about our service",
        "leave_bank": "the customer says they will leave us",
        "make_formal_complaint": "the customer wants to make a formal complaint",
        "financial_hardship": "the customer describes financial hardship",
        "report_fraud": _FRAUD_REPORTED,
    }
)
_MAX_STEP_GROUPS = 4
_MAX_REASONS = 3
# A change in frustration smaller than this, first message to last, reads as "stayed around".
_FRUSTRATION_CHANGE = 0.1


def build_brief(
    *,
    conversation_id: str,
    customer: CustomerInfo | None,
    channel: str,
    transcript: Sequence[TranscriptEntry],
    decision: EscalationDecision,
    attempted_steps: Sequence[Mapping[str, Any]],
    slots: Mapping[str, Any],
    entities: Sequence[Mapping[str, Any]],
    customer_notice: str,
    now: datetime,
) -> HandoffBrief:
    """The brief for a conversation the engine decided to hand over.

    ``customer`` ``None`` means not signed in. ``attempted_steps`` are the assistant's slot
    entries (``action``, ``step``, ``outcome``, ``summary``, ``at``); ``entities`` are Rasa
    entity dicts, of which only ``entity`` and ``value`` are kept. Raises
    :class:`BriefInputError` when the decision has no routing or a fact is malformed.
    """
    customer = customer or ANONYMOUS
    messages = _ordered(transcript)
    sla = _checked_sla(decision)
    try:
        steps = _steps(attempted_steps)
        decided = decision.decided_at or now
        return HandoffBrief(
            schema_version=SCHEMA_VERSION,
            conversation_id=conversation_id,
            customer=CustomerBrief(id=customer.id, name=customer.name, tier=customer.tier),
            channel=channel,
            transcript=tuple(_message(entry) for entry in messages),
            sentiment_arc=_arc(messages),
            intents=tuple(
                IntentPoint(seq=entry.seq, intent=entry.intent, confidence=entry.confidence)
                for entry in messages
                if entry.sender == "customer" and entry.intent is not None
            ),
            attempted_steps=steps,
            slots=dict(slots),
            entities=_entities(entities),
            reasons=tuple(
                ReasonBrief(
                    code=hit.code, value=hit.value, threshold=hit.threshold, detail=hit.detail
                )
                for hit in decision.reasons
            ),
            score=decision.score,
            severity=decision.severity,
            category=decision.category,
            team=decision.team,
            mode=decision.mode,
            priority=decision.priority,
            sla=SlaBrief(
                acknowledge_due=decision.acknowledge_due or decided + sla.acknowledge,
                resolve_due=decision.resolve_due or decided + sla.resolve,
                customer_update_every_seconds=round(sla.customer_update.total_seconds()),
            ),
            created_at=now,
            summary=_summary(customer, messages, decision, steps),
            customer_notice=customer_notice,
        )
    except ValidationError as exc:
        raise BriefInputError(f"cannot build the brief of {conversation_id!r}: {exc}") from exc


def summarize(
    *,
    customer: CustomerInfo | None,
    transcript: Sequence[TranscriptEntry],
    decision: EscalationDecision,
    attempted_steps: Sequence[Mapping[str, Any]],
) -> str:
    """Two or three plain sentences for the agent: who and what, what was tried, why escalated.

    Composed by fixed rules from the facts (no model), e.g. "Premium customer Ana Lima
    (cus_1001) has been asking about card arrival for 4 turns; frustration rose from 0.20 to
    0.86. The assistant checked the card's delivery status (info) and froze the card (done).
    Escalated to the security team as Sev-2 because: the customer asked for a person;
    frustration 0.86 is above the premium threshold 0.60."
    """
    try:
        steps = _steps(attempted_steps)
    except ValidationError as exc:
        raise BriefInputError(f"malformed attempted steps: {exc}") from exc
    return _summary(customer or ANONYMOUS, _ordered(transcript), decision, steps)


def humanize(name: str) -> str:
    """A machine name in plain words: ``card_arrival`` -> "card arrival",
    ``Refund_not_showing_up`` -> "refund not showing up", ``reverted_card_payment?`` ->
    "reverted card payment".
    """
    words = re.sub(r"[^0-9a-z' ]+", " ", name.lower().replace("_", " ").replace("-", " "))
    return " ".join(words.split())


# ------------------------------------------------------------------------------ facts


def _ordered(transcript: Sequence[TranscriptEntry]) -> list[TranscriptEntry]:
    messages = sorted(transcript, key=lambda entry: entry.seq)
    seen = Counter(entry.seq for entry in messages)
    duplicates = sorted(seq for seq, count in seen.items() if count > 1)
    if duplicates:
        raise BriefInputError(
            f"transcript has several messages with seq {duplicates}: send each message once"
        )
    return messages


def _checked_sla(decision: EscalationDecision) -> SlaTargets:
    """The decision's SLA targets, once every routing field is known to be set."""
    routing = (decision.severity, decision.category, decision.team, decision.mode)
    if (
        not decision.escalate
        or any(field is None for field in routing)
        or decision.priority is None
        or decision.sla is None
    ):
        raise BriefInputError(
            "the decision has no routing (escalate is false or severity, category, team, mode, "
            "priority or sla is missing): build a brief only for a decision that escalates"
        )
    return decision.sla


def _steps(attempted_steps: Sequence[Mapping[str, Any]]) -> tuple[AttemptedStepBrief, ...]:
    return tuple(AttemptedStepBrief.model_validate(dict(step)) for step in attempted_steps)


def _entities(entities: Sequence[Mapping[str, Any]]) -> tuple[EntityBrief, ...]:
    try:
        return tuple(EntityBrief(entity=item["entity"], value=item["value"]) for item in entities)
    except KeyError as exc:
        raise BriefInputError(
            f"an entity lacks {exc}: send Rasa entity dicts with 'entity' and 'value'"
        ) from None


def _message(entry: TranscriptEntry) -> TranscriptMessage:
    reading = entry.sentiment
    return TranscriptMessage(
        seq=entry.seq,
        sender=entry.sender,
        text=entry.text,
        at=entry.at,
        sentiment=None
        if reading is None
        else MessageSentiment(
            label=reading.label,
            scores=dict(reading.scores),
            frustration=reading.frustration,
            irony=reading.irony,
        ),
        intent=entry.intent,
        confidence=entry.confidence,
    )


def _scored(messages: Sequence[TranscriptEntry]) -> list[tuple[TranscriptEntry, SentimentReading]]:
    return [
        (entry, entry.sentiment)
        for entry in messages
        if entry.sender == "customer" and entry.sentiment is not None
    ]


def _arc(messages: Sequence[TranscriptEntry]) -> tuple[SentimentPoint, ...]:
    points = []
    for entry, reading in _scored(messages):
        if "negative" not in reading.scores:
            raise BriefInputError(
                f"the reading of message {entry.seq} has no 'negative' score: send the "
                "classifier's scores for negative, neutral and positive"
            )
        points.append(
            SentimentPoint(
                seq=entry.seq,
                at=entry.at,
                negative=reading.scores["negative"],
                frustration=reading.frustration,
                label=reading.label,
            )
        )
    return tuple(points)


# ------------------------------------------------------------------------------ summary


def _summary(
    customer: CustomerInfo,
    messages: Sequence[TranscriptEntry],
    decision: EscalationDecision,
    steps: Sequence[AttemptedStepBrief],
) -> str:
    return " ".join(
        (
            _who_and_what(customer, messages),
            _what_was_tried(steps),
            _why_escalated(decision, customer.tier),
        )
    )


def _who_and_what(customer: CustomerInfo, messages: Sequence[TranscriptEntry]) -> str:
    clauses = [f"{_subject(customer)} {_activity(messages)}"]
    frustration = _frustration_clause(messages)
    if frustration:
        clauses.append(frustration)
    return "; ".join(clauses) + "."


def _subject(customer: CustomerInfo) -> str:
    if customer.name and customer.id:
        who = f"{customer.name} ({customer.id})"
    elif customer.name or customer.id:
        who = customer.name or customer.id or ""
    else:
        return "A customer who is not signed in"
    return f"{customer.tier.value.capitalize()} customer {who}"


def _activity(messages: Sequence[TranscriptEntry]) -> str:
    turns = [entry for entry in messages if entry.sender == "customer"]
    if not turns:
        return "has not written anything yet"
    topic = _topic(turns)
    if topic is None:
        if len(turns) == 1:
            return "wrote one message with no recognised topic"
        return f"has written {len(turns)} messages with no recognised topic"
    if len(turns) == 1:
        return f"asked about {topic}"
    return f"has been asking about {topic} for {len(turns)} turns"


def _topic(turns: Sequence[TranscriptEntry]) -> str | None:
    """The most frequent substantive intent; a tie goes to the most recent of them."""
    intents = [
        entry.intent
        for entry in turns
        if entry.intent is not None and entry.intent not in _NO_TOPIC_INTENTS
    ]
    if not intents:
        return None
    counts = Counter(intents)
    last_seen = {intent: index for index, intent in enumerate(intents)}
    best = max(counts, key=lambda intent: (counts[intent], last_seen[intent]))
    return humanize(best) or None


def _frustration_clause(messages: Sequence[TranscriptEntry]) -> str | None:
    levels = [reading.frustration for _, reading in _scored(messages)]
    if not levels:
        return None
    first, last = levels[0], levels[-1]
    if len(levels) == 1:
        return f"frustration is {last:.2f}"
    if last - first >= _FRUSTRATION_CHANGE:
        return f"frustration rose from {first:.2f} to {last:.2f}"
    if first - last >= _FRUSTRATION_CHANGE:
        return f"frustration fell from {first:.2f} to {last:.2f}"
    return f"frustration stayed around {last:.2f}"


def _what_was_tried(steps: Sequence[AttemptedStepBrief]) -> str:
    if not steps:
        return "The assistant has not tried any resolution step yet."
    # The same step with the same outcome, repeated, is said once with a count, in the order
    # of its first occurrence (dicts keep insertion order).
    groups = Counter((step.step, step.outcome) for step in steps)
    phrases = [_step_phrase(name, outcome, count) for (name, outcome), count in groups.items()]
    if len(phrases) > _MAX_STEP_GROUPS:
        rest = len(phrases) - (_MAX_STEP_GROUPS - 1)
        phrases = [*phrases[: _MAX_STEP_GROUPS - 1], f"{rest} other steps"]
    return f"The assistant {_join(phrases)}."


def _step_phrase(name: str, outcome: StepOutcome, count: int) -> str:
    known = _STEP_PHRASES.get(name)
    done, tried = known or (f"ran the {humanize(name)} step", f"run the {humanize(name)} step")
    phrase = done if outcome in _SUCCESSFUL else f"tried to {tried}"
    times = {1: "", 2: " twice"}.get(count, f" {count} times")
    return f"{phrase}{times} ({_OUTCOME_WORDS[outcome]})"


def _why_escalated(decision: EscalationDecision, tier: Tier) -> str:
    assert decision.team is not None and decision.severity is not None  # checked by _checked_sla
    team = humanize(decision.team)
    team = team if team.endswith("team") else f"{team} team"
    severity = decision.severity.value.replace("sev", "Sev-")
    head = f"Escalated to the {team} as {severity}"
    # Modifiers (premium_tier, answer_first) explain the severity or the mode, not why the
    # conversation was handed over, so the summary's "because" leaves them out.
    triggers = [hit for hit in decision.reasons if hit.code not in reason_codes.MODIFIER_CODES]
    if not triggers:
        return head + "."
    reasons = [_agent_reason(hit, tier) for hit in triggers[:_MAX_REASONS]]
    if len(triggers) > _MAX_REASONS:
        reasons.append(f"and {len(triggers) - _MAX_REASONS} more")
    return f"{head} because: {'; '.join(reasons)}."


def _agent_reason(hit: ReasonHit, tier: Tier) -> str:
    """One trigger as a clause for the agent, with its figures; the engine's detail otherwise."""
    code, value, threshold = hit.code, hit.value, hit.threshold
    numbers = _is_number(value) and _is_number(threshold)
    if code == "high_frustration" and numbers:
        return f"frustration {value:.2f} {_compared(value, threshold, f'{tier.value} threshold')}"
    if code == "negative_polarity" and numbers:
        return f"negativity {value:.2f} {_compared(value, threshold, 'threshold')}"
    if code == "rising_frustration" and numbers:
        return f"frustration rose by {value:.2f} over the last few turns"
    if code == "low_confidence" and numbers:
        return f"the assistant's confidence {value:.2f} is below the threshold {threshold:.2f}"
    if code == "sustained_negative" and _is_number(value):
        return f"the customer's last {value:g} turns were negative"
    if code == "intent_loop" and _is_number(value):
        return f"the same topic came up in the customer's last {value:g} turns"
    if code == reason_codes.UNRESOLVED_FRUSTRATION and numbers:
        return f"the customer was frustrated ({value:.2f}) and the assistant's answer did not help"
    if code == "repeated_fallback" and _is_number(value) and value != 2:
        return f"the assistant could not help with {value:g} turns in a row"
    if code == reason_codes.RISK_INTENT:
        return _risk_intent_reason(hit)
    if code == "risk_phrase" and isinstance(value, str) and value:
        return f'the customer wrote "{value}"'
    if code == "rasa_signal" and isinstance(value, str) and value in _ASSISTANT_REASONS:
        return f"the assistant handed over as {_ASSISTANT_REASONS[value]}"
    if code == "bot_error":
        return _ASSISTANT_REASONS[code]
    known = _ASSISTANT_REASONS.get(code)
    if known is not None:
        return known
    return _clause(hit.detail) or humanize(code)


def _risk_intent_reason(hit: ReasonHit) -> str:
    # "the customer says they will leave us (leave_bank 0.93, threshold 0.60)": what was
    # understood, then the figures behind it, as for the other triggers.
    intent = reason_codes.intent_of(hit.value)
    if intent is None:
        return _clause(hit.detail) or humanize(hit.code)
    said = _RISK_INTENT_REASONS.get(intent, f"the assistant understood {humanize(intent)}")
    figures = str(hit.value)
    if _is_number(hit.threshold):
        figures += f", threshold {hit.threshold:.2f}"
    return f"{said} ({figures})"


def _compared(value: float, threshold: float, name: str) -> str:
    # The engine fires at or above a threshold, so the value can equal it.
    relation = "is above" if value > threshold else "reached"
    return f"{relation} the {name} {threshold:.2f}"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _clause(sentence: str) -> str:
    """The engine's one-sentence detail as a clause: no final stop, no inner sentence breaks."""
    text = " ".join(sentence.split()).rstrip(".")
    parts = re.split(r"\.\s+", text)
    return "; ".join(_lower_initial(part) for part in parts)


def _lower_initial(text: str) -> str:
    # Lower-case a leading capital unless the word is an acronym ("PIN", "SEPA").
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"

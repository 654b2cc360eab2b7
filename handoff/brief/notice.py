"""What the customer is told about a handoff, and while they wait: plain words, honest waits.

Pure functions of the decision and the queue's figures. The customer never sees a reason code,
a score or a threshold: the reason comes from a fixed table of plain phrases keyed by the top
reason's code (or, for a code this table does not know, by the category), never from the
engine's ``detail``, which is written for agents.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from handoff.escalation import reasons
from handoff.escalation.decision import Category, EscalationDecision, HandoffMode, ReasonHit

logger = logging.getLogger(__name__)

# Completes "... because <phrase>." Keyed by the engine's reason code (handoff/escalation/
# reasons.py) and by the assistant's own reasons (actions/escalation.py), which the engine
# reports as the value of a rasa_signal hit, and by the intent of a risk_intent hit (the
# policy's risk_intents). risk_phrase is left to the category on purpose: repeating "fraud" or
# "lawyer" back to the customer helps nobody.
_NOT_SORTED_OUT = "I haven't been able to sort this out for you"
_NOT_UNDERSTOOD = "I wasn't able to understand what you need"
_NOT_HELPED = "a person can sort this out better than I can"
_UNHAPPY = "you're unhappy with the service you've had from us, and they can put things right"
_LEAVING = "you're thinking of leaving us, and they'd like to hear what went wrong"
_COMPLAINT = "you'd like to make a formal complaint, and they'll record it and give you a reference"
_HARDSHIP = (
    "you've told me things are difficult financially, and they can talk through the support "
    "we offer"
)
_THANKS_FOR_TELLING = "Thank you for telling me, and I'm sorry you're going through this."
_FRAUD = "you've told me about possible fraud, and they can protect your account"
# Said first, before anything about queues: what the customer must not do while they wait.
_FRAUD_OPENING = (
    "I'm sorry, this could be fraud: please don't share any more codes or passwords, or send "
    "any more money, while you wait."
)
_REASON_PHRASES: Mapping[str, str] = MappingProxyType(
    {
        "request_human": "you asked to speak to a person",
        "high_frustration": _NOT_SORTED_OUT,
        "rising_frustration": _NOT_SORTED_OUT,
        "negative_polarity": _NOT_SORTED_OUT,
        "sustained_negative": _NOT_SORTED_OUT,
        "intent_loop": _NOT_SORTED_OUT,
        "unresolved_frustration": _NOT_SORTED_OUT,
        "repeated_fallback": _NOT_UNDERSTOOD,
        "low_confidence": _NOT_UNDERSTOOD,
        "bot_error": "I can't reach our banking systems right now",
        "security_risk": "your card may have been compromised",
        "possible_fraud": "there's a payment you don't recognise",
        "churn_risk": "you'd like to close your account",
        # The customer-care intents, as understood by the engine and as the assistant's reasons.
        "complain_about_assistant": _NOT_HELPED,
        "assistant_complaint": _NOT_HELPED,
        "complain_about_service": _UNHAPPY,
        "service_complaint": _UNHAPPY,
        "leave_bank": _LEAVING,
        "leaving_bank": _LEAVING,
        "make_formal_complaint": _COMPLAINT,
        "formal_complaint": _COMPLAINT,
        "financial_hardship": _HARDSHIP,
        # A report of fraud on the account, as understood by the engine and as the reason.
        "report_fraud": _FRAUD,
        "fraud_report": _FRAUD,
    }
)
# Said before the handoff sentence for the same keys: the customer told us something
# difficult, so it is acknowledged before they hear who takes over. (The assistant's own
# acknowledgement is replaced by this notice when it hands over.)
_SORRY = "I'm sorry about this."
_OPENINGS: Mapping[str, str] = MappingProxyType(
    {
        "complain_about_assistant": "I'm sorry I haven't been much help.",
        "assistant_complaint": "I'm sorry I haven't been much help.",
        "complain_about_service": _SORRY,
        "service_complaint": _SORRY,
        "leave_bank": _SORRY,
        "leaving_bank": _SORRY,
        "make_formal_complaint": "I'm sorry you've had reason to complain.",
        "formal_complaint": "I'm sorry you've had reason to complain.",
        "financial_hardship": _THANKS_FOR_TELLING,
        "report_fraud": _FRAUD_OPENING,
        "fraud_report": _FRAUD_OPENING,
    }
)
_RASA_SIGNAL = "rasa_signal"

# For a reason code the table above does not know: the category still says something true.
_CATEGORY_PHRASES: Mapping[Category, str] = MappingProxyType(
    {
        Category.SECURITY: "this needs one of our security specialists",
        Category.BILLING: "this needs someone who can look into the payments on your account",
        Category.COMPLIANCE: "this needs a specialist to review it",
        Category.RELATIONSHIP: "this is best handled by a person",
        Category.TECHNICAL: "I wasn't able to resolve this myself",
    }
)
_DEFAULT_PHRASE = "a colleague can help you better with this"

_MODE_SENTENCES: Mapping[HandoffMode | None, str] = MappingProxyType(
    {
        HandoffMode.WARM: (
            "They'll read our conversation first and then introduce themselves, "
            "so there's no need to repeat anything."
        ),
        HandoffMode.COLD: (
            "They'll see our conversation so far and pick up from here, "
            "so there's no need to repeat anything."
        ),
        None: "They'll see our conversation so far, so there's no need to repeat anything.",
    }
)


def customer_notice(
    *,
    decision: EscalationDecision,
    team_display_name: str,
    queue_position: int | None,
    wait_estimate: timedelta | None,
    agents_available: bool,
) -> str:
    """What the customer is told just before the transfer.

    Which team takes over and why (in plain words, from the top reason), what happens next,
    and how long it will take: the queue position and a rounded wait estimate when agents are
    available, else an honest "nobody is free right now" with the acknowledgement target as the
    expected response time and an invitation to leave a message.
    """
    team = _team_phrase(team_display_name)
    key = _reason_key(decision)
    opening = _OPENINGS.get(key) if key is not None else None
    sentences = [
        *([opening] if opening is not None else []),
        f"I'm passing you to a colleague from {team} because {_reason_phrase(decision, key)}.",
        _MODE_SENTENCES[decision.mode],
    ]
    if agents_available:
        sentences.append(_wait_sentence(queue_position, wait_estimate))
    else:
        sentences.append(_no_agent_sentence(decision))
        sentences.append(
            "You can leave a message here, and they'll read it as soon as they pick up "
            "your conversation."
        )
    return " ".join(sentences)


def queue_update(position: int, wait_estimate: timedelta | None) -> str:
    """An update for a customer still in the queue: their position and the rounded wait."""
    place = _place(position, prefix="now ")
    if wait_estimate is None:
        return f"Thanks for waiting. You're {place}."
    return f"Thanks for waiting. You're {place}, and the wait is {wait_phrase(wait_estimate)}."


def wait_phrase(wait: timedelta) -> str:
    """A rounded, human wait: "less than a minute", "about 5 minutes", "within the hour"...

    Rounded to the nearest figure a person would say (whole minutes under 10, fives of minutes
    under 50, half hours under 3 hours, hours under 2 days, then days). A negative wait (a
    stale estimate) reads as "less than a minute".
    """
    seconds = max(wait.total_seconds(), 0.0)
    if seconds < 60:
        return "less than a minute"
    minutes = _round_half_up(seconds / 60)
    if minutes <= 1:
        return "about a minute"
    if minutes < 10:
        return f"about {minutes} minutes"
    if minutes < 50:
        return f"about {5 * _round_half_up(minutes / 5)} minutes"
    if minutes <= 60:
        return "within the hour"
    return f"about {_hours_or_days(seconds, _round_half_up)}"


def _round_half_up(x: float) -> int:
    # round() rounds halves to even (2.5 -> 2); people round them up.
    return math.floor(x + 0.5)


def _ceil(x: float) -> int:
    # A small tolerance so 7200.0000001 seconds is still "2 hours".
    return math.ceil(x - 1e-9)


def _hours_or_days(seconds: float, rounding: Callable[[float], int]) -> str:
    """Over an hour: "an hour", "an hour and a half", "2 and a half hours", "5 hours", "3 days"."""
    hours = seconds / 3600
    if hours < 3:
        halves = max(rounding(hours * 2), 2)
        whole, half = divmod(halves, 2)
        count = "an hour" if whole == 1 else f"{whole} hours"
        if not half:
            return count
        return "an hour and a half" if whole == 1 else f"{whole} and a half hours"
    if hours < 48:
        return f"{rounding(hours)} hours"
    days = rounding(hours / 24)
    return f"{days} days"


def _target_phrase(target: timedelta) -> str:
    """A service-level target as a bound, rounded up so the customer is never promised less."""
    seconds = max(target.total_seconds(), 60.0)
    minutes = _ceil(seconds / 60)
    if minutes < 10:
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    if minutes < 60:
        return f"{5 * _ceil(minutes / 5)} minutes"
    return _hours_or_days(seconds, _ceil)


def _team_phrase(display_name: str) -> str:
    name = " ".join(display_name.split())
    if not name:
        return "our support team"
    return f"our {name}" if name.lower().endswith("team") else f"our {name} team"


def _reason_key(decision: EscalationDecision) -> str | None:
    """The key of the phrase tables for the top trigger; None when nothing but modifiers fired."""
    # Only the top trigger: the customer needs one true reason, not the engine's whole list.
    # A modifier (premium_tier) explains the severity or the mode: never the customer's reason.
    top = next((hit for hit in decision.reasons if hit.code not in reasons.MODIFIER_CODES), None)
    return None if top is None else _key_of(top)


def _key_of(hit: ReasonHit) -> str:
    if hit.code == _RASA_SIGNAL and isinstance(hit.value, str):
        return hit.value
    if hit.code == reasons.RISK_INTENT:
        return reasons.intent_of(hit.value) or hit.code
    return hit.code


def _reason_phrase(decision: EscalationDecision, key: str | None) -> str:
    if key is not None:
        phrase = _REASON_PHRASES.get(key)
        if phrase is not None:
            return phrase
    if decision.category is not None:
        return _CATEGORY_PHRASES.get(decision.category, _DEFAULT_PHRASE)
    return _DEFAULT_PHRASE


def _wait_sentence(queue_position: int | None, wait_estimate: timedelta | None) -> str:
    place = None if queue_position is None else _place(queue_position, prefix="")
    if place and wait_estimate is not None:
        return f"You're {place}, and the wait is {wait_phrase(wait_estimate)}."
    if place:
        return f"You're {place}; they'll be with you as soon as they're free."
    if wait_estimate is not None:
        return f"The wait is {wait_phrase(wait_estimate)}."
    return "They'll be with you as soon as they're free."


def _place(position: int, *, prefix: str) -> str:
    if position < 1:
        raise ValueError(f"queue position must be 1 or more, got {position}")
    return "next in the queue" if position == 1 else f"{prefix}number {position} in the queue"


def _no_agent_sentence(decision: EscalationDecision) -> str:
    # Honest: nobody is online, so promise only the acknowledgement target, not a queue wait.
    if decision.sla is None:
        return (
            "Nobody from the team is available right now, so it may take a while before "
            "someone replies."
        )
    return (
        "Nobody from the team is available right now, so it will take longer than usual: "
        f"expect a reply within {_target_phrase(decision.sla.acknowledge)}."
    )


def closed_notice(*, team_display_name: str, opens_at: datetime, now: datetime) -> str:
    """What a customer queued outside the team's business hours is told.

    ``opens_at`` is the next opening in the team's own time zone (from
    :func:`handoff.escalation.hours.next_opening`); the day reads "today", "tomorrow" or the
    weekday's name, counted in that time zone, and the time zone is named so that a customer
    elsewhere is not misled.
    """
    team = _team_phrase(team_display_name)
    local_now = now.astimezone(opens_at.tzinfo)
    days = (opens_at.date() - local_now.date()).days
    if days <= 0:
        day = "today"
    elif days == 1:
        day = "tomorrow"
    else:
        day = f"on {opens_at.strftime('%A')}"
    zone = str(opens_at.tzinfo)
    return (
        f"{team[0].upper()}{team[1:]} is closed right now. It opens again {day} at "
        f"{opens_at.strftime('%H:%M')} ({zone} time). Your conversation stays in the queue "
        "with everything you've told us, and the first colleague to come in will pick it up."
    )

"""The machine-readable handoff signal the handoff service listens for.

An escalating action sends, besides its text, a custom message::

    {"handoff": {"version": 1, "reason": "security_risk", "intent": "compromised_card",
                 "confidence": 0.93, "category": "security", "severity": "sev1",
                 "team": "security", "attempted_steps": [...], "summary": "..."}}

and sets the ``handoff_reason`` slot to the reason code. ``attempted_steps`` is the whole
slot value including the steps of the current turn, so the agent sees everything tried.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.attempted_steps import AttemptedStep
from actions.conversation import IntentReading
from actions.escalation import EscalationHint

logger = logging.getLogger(__name__)

SIGNAL_VERSION = 1
SIGNAL_KEY = "handoff"
REASON_SLOT = "handoff_reason"


def summary_line(hint: EscalationHint, turn_steps: Sequence[AttemptedStep]) -> str:
    """One line for the agent: the hint's headline, then what this turn tried."""
    if not turn_steps:
        return hint.headline
    done = "; ".join(step.summary for step in turn_steps)
    return " ".join(f"{hint.headline}: {done}".split())  # one line, whatever the summaries hold


def handoff_payload(
    hint: EscalationHint,
    reading: IntentReading,
    attempted_steps: list[dict[str, Any]],
    summary: str,
) -> dict[str, Any]:
    """The ``handoff`` object of the signal (version :data:`SIGNAL_VERSION`)."""
    return {
        "version": SIGNAL_VERSION,
        "reason": hint.reason,
        "intent": reading.name,
        "confidence": reading.confidence,
        "category": hint.category,
        "severity": hint.severity.value,
        "team": hint.team,
        "attempted_steps": list(attempted_steps),
        "summary": summary,
    }


def escalate(
    dispatcher: CollectingDispatcher,
    hint: EscalationHint,
    reading: IntentReading,
    attempted_steps: list[dict[str, Any]],
    turn_steps: Sequence[AttemptedStep],
) -> list[EventType]:
    """Tell the customer a colleague takes over, send the signal, and set ``handoff_reason``."""
    summary = summary_line(hint, turn_steps)
    dispatcher.utter_message(response=hint.response)
    dispatcher.utter_message(
        json_message={SIGNAL_KEY: handoff_payload(hint, reading, attempted_steps, summary)}
    )
    logger.info("handoff requested: reason=%s intent=%s", hint.reason, reading.name)
    return [SlotSet(REASON_SLOT, hint.reason)]

"""Messages the assistant did not understand: ask to rephrase once, then hand over."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import NLU_FALLBACK_INTENT_NAME
from rasa_sdk.types import DomainDict

from actions.attempted_steps import AttemptedStep, Outcome, record_steps
from actions.clock import utc_now
from actions.conversation import latest_intent
from actions.escalation import REPEATED_FALLBACK
from actions.handoff_signal import escalate

logger = logging.getLogger(__name__)

# Events that end the stretch of conversation the count looks at.
_BOUNDARIES = frozenset({"session_started", "restart"})
ESCALATE_AT = 2


def consecutive_fallbacks(events: Sequence[dict[str, Any]]) -> int:
    """How many of the latest user messages in a row were classified as ``nlu_fallback``.

    Derived from the events instead of kept in a slot, so it cannot drift from what actually
    happened (a rewound or edited conversation recounts correctly).
    """
    count = 0
    for event in reversed(events):
        kind = event.get("event")
        if kind in _BOUNDARIES:
            break
        if kind != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != NLU_FALLBACK_INTENT_NAME:
            break
        count += 1
    return count


class ActionHandleFallback(Action):
    """First unclear message: ask to rephrase. Second in a row: ``repeated_fallback`` handoff."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_handle_fallback"

    def run(  # sync: nothing here waits on I/O
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Ask to rephrase, or hand over when this is the second unclear message in a row."""
        # The action runs for the latest message, so it counts at least once even if the
        # tracker sent along was cut short.
        count = max(consecutive_fallbacks(tracker.events), 1)
        now = utc_now()
        if count < ESCALATE_AT:
            dispatcher.utter_message(response="utter_ask_rephrase")
            step = AttemptedStep(
                self.name(),
                "ask_rephrase",
                Outcome.INFO,
                "asked to rephrase an unclear message",
                now,
            )
            _, events = record_steps(tracker, [step])
            return events
        step = AttemptedStep(
            self.name(),
            "understand_message",
            Outcome.FAILED,
            f"did not understand {count} messages in a row",
            now,
        )
        steps, events = record_steps(tracker, [step])
        return events + escalate(
            dispatcher, REPEATED_FALLBACK, latest_intent(tracker), steps, [step]
        )

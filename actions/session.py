"""Session start: who the customer is comes with the first message of a session."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import CUSTOMER_METADATA_KEY, CUSTOMER_SLOT

logger = logging.getLogger(__name__)

# Rasa stores the metadata of the message that started the session in this slot.
SESSION_METADATA_SLOT = "session_started_metadata"


def session_metadata(tracker: Tracker) -> dict[str, Any]:
    """The metadata the session was started with: the slot Rasa fills, else the metadata of
    the latest ``session_started`` event."""
    from_slot = tracker.get_slot(SESSION_METADATA_SLOT)
    if isinstance(from_slot, dict) and from_slot:
        return from_slot
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def _carry_over(domain: DomainDict) -> bool:
    config = domain.get("session_config") or {}
    return bool(config.get("carry_over_slots_to_new_session", True))


class ActionSessionStart(Action):
    """Rasa's session start, plus the ``customer_id`` slot from the session's metadata.

    Mirrors the built-in action (``SessionStarted``, carried-over slots, ``action_listen``) so
    replacing it changes nothing else.
    """

    def name(self) -> str:
        """The action's name in the domain (it overrides Rasa's default)."""
        return "action_session_start"

    def run(  # sync: nothing here waits on I/O
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Start the session, carry slots over and set ``customer_id`` from the metadata."""
        events: list[EventType] = [SessionStarted()]
        if _carry_over(domain):
            events += [
                SlotSet(name, value) for name, value in tracker.slots.items() if value is not None
            ]
        customer_id = session_metadata(tracker).get(CUSTOMER_METADATA_KEY)
        if isinstance(customer_id, str) and customer_id.strip():
            # Set after the carried-over slots so the signed-in customer wins over a stale id.
            events.append(SlotSet(CUSTOMER_SLOT, customer_id.strip()))
        events.append(ActionExecuted("action_listen"))
        return events

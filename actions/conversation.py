"""Reading the tracker: which intent the customer expressed and who the customer is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

CUSTOMER_SLOT = "customer_id"
CUSTOMER_METADATA_KEY = "customer_id"


@dataclass(frozen=True)
class IntentReading:
    """The NLU result for the latest user message."""

    name: str | None
    confidence: float


@dataclass(frozen=True)
class CustomerRef:
    """Who the customer says they are, and where that came from."""

    customer_id: str | None
    from_metadata: bool


def latest_intent(tracker: Tracker) -> IntentReading:
    """The latest message's intent and confidence (None and 0.0 when there is none)."""
    intent: dict[str, Any] = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    confidence = intent.get("confidence")
    return IntentReading(
        name=name if isinstance(name, str) and name else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else 0.0,
    )


def identify_customer(tracker: Tracker) -> CustomerRef:
    """The customer id from the latest message's metadata, else from the ``customer_id`` slot.

    Metadata wins because the channel (the Northwind app) attaches the signed-in customer to
    every message, so it is current even when the slot still holds an earlier session's id.
    """
    metadata = tracker.latest_message.get("metadata") or {}
    from_metadata = metadata.get(CUSTOMER_METADATA_KEY) if isinstance(metadata, dict) else None
    if isinstance(from_metadata, str) and from_metadata.strip():
        return CustomerRef(from_metadata.strip(), from_metadata=True)
    from_slot = tracker.get_slot(CUSTOMER_SLOT)
    if isinstance(from_slot, str) and from_slot.strip():
        return CustomerRef(from_slot.strip(), from_metadata=False)
    return CustomerRef(None, from_metadata=False)


def customer_slot_events(ref: CustomerRef, tracker: Tracker) -> list[EventType]:
    """A ``SlotSet`` for ``customer_id`` when it came from metadata and the slot differs."""
    if ref.from_metadata and tracker.get_slot(CUSTOMER_SLOT) != ref.customer_id:
        return [SlotSet(CUSTOMER_SLOT, ref.customer_id)]
    return []

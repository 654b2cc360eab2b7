"""The ``attempted_steps`` slot: what the assistant already tried, for the human who takes over.

Each entry is a plain dict (slots must be JSON)::

    {"action": "action_freeze_card", "step": "freeze_card", "outcome": "done",
     "summary": "froze card ending 4242: done", "at": "2024-11-27T10:00:00+00:00"}

The slot keeps the most recent :data:`MAX_KEPT` entries so a long conversation cannot grow the
tracker (and the handoff payload, which carries the list) without bound.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

logger = logging.getLogger(__name__)

SLOT = "attempted_steps"
MAX_KEPT = 20
_KEYS = ("action", "step", "outcome", "summary", "at")


class Outcome(StrEnum):
    """How a step ended."""

    DONE = "done"  # the step changed something (froze a card, cancelled a transfer)
    FAILED = "failed"  # the step could not run (backend error, not understood)
    INFO = "info"  # the step looked something up and told the customer
    NEEDS_SIGN_IN = "needs_sign_in"  # the step needs an identified customer
    NOT_FOUND = "not_found"  # nothing on the account matched (no pending transfer...)


@dataclass(frozen=True)
class AttemptedStep:
    """One resolution step an action ran."""

    action: str
    step: str
    outcome: Outcome
    summary: str
    at: datetime

    def as_slot_value(self) -> dict[str, str]:
        """The JSON-friendly dict stored in the slot and sent in the handoff payload."""
        return {
            "action": self.action,
            "step": self.step,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "at": self.at.astimezone(UTC).isoformat(),
        }


def previous_steps(tracker: Tracker) -> list[dict[str, Any]]:
    """The steps already in the slot; malformed entries (hand-edited trackers) are dropped."""
    value = tracker.get_slot(SLOT)
    if not isinstance(value, list):
        return []
    kept = [entry for entry in value if isinstance(entry, dict) and set(_KEYS) <= entry.keys()]
    if len(kept) != len(value):
        logger.warning("dropped %d malformed %s entries", len(value) - len(kept), SLOT)
    return kept


def append_steps(
    previous: Sequence[dict[str, Any]], new: Iterable[AttemptedStep]
) -> list[dict[str, Any]]:
    """``previous`` followed by ``new``, keeping only the last :data:`MAX_KEPT`."""
    combined = [*previous, *(step.as_slot_value() for step in new)]
    return combined[-MAX_KEPT:]


def record_steps(
    tracker: Tracker, new: Sequence[AttemptedStep]
) -> tuple[list[dict[str, Any]], list[EventType]]:
    """The slot's steps with ``new`` appended, and the events that store them.

    No event is returned when there is nothing new, so a turn without steps leaves the slot
    (and the tracker) untouched.
    """
    steps = append_steps(previous_steps(tracker), new)
    return steps, ([SlotSet(SLOT, steps)] if new else [])

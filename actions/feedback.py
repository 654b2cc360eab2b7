"""Back from a human agent: welcome the customer back and ask them to rate the help they got.

The handoff service triggers the external intent ``EXTERNAL_back_from_agent`` when an agent
hands the conversation back or resolves it, after setting ``handback_summary`` to the agent's
summary (null when there is none). ``action_welcome_back`` answers it and sets
``rating_requested``; ``action_record_rating`` reads the customer's rating from 1 to 5 and
stores it in ``satisfaction_rating``, which the handoff channel returns among the turn's slots.
Rating is optional: the customer can carry on with any other question instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.rating import parse_rating

logger = logging.getLogger(__name__)

WELCOME_BACK_ACTION = "action_welcome_back"
RECORD_RATING_ACTION = "action_record_rating"
SUMMARY_SLOT = "handback_summary"
REQUESTED_SLOT = "rating_requested"
RATING_SLOT = "satisfaction_rating"
# The welcome back is one short message: a longer summary is cut at a word.
SUMMARY_MAX_CHARS = 200


def summary_for_customer(value: Any) -> str | None:
    """The agent's summary on one line, for the welcome back; None when there is none.

    The slot may hold null or an empty string (resolved without a summary) and several lines.
    The response quotes it and ends the sentence itself, so a closing full stop is dropped.
    """
    if not isinstance(value, str):
        return None
    text = " ".join(value.split()).rstrip(" .")
    if len(text) > SUMMARY_MAX_CHARS:
        text = text[:SUMMARY_MAX_CHARS].rsplit(" ", 1)[0].rstrip(" .,;:") + "…"
    return text or None


def asked_again(events: Sequence[dict[str, Any]]) -> bool:
    """Whether the rating was already asked for again since the latest welcome back.

    A recorded rating clears ``rating_requested``, so while it is still set, an earlier run of
    ``action_record_rating`` since the welcome back means that run asked again. Derived from
    the events rather than kept in a slot, like the fallback count (actions/fallback.py).
    """
    for event in reversed(events):
        if event.get("event") != "action":
            continue
        if event.get("name") == WELCOME_BACK_ACTION:
            return False
        if event.get("name") == RECORD_RATING_ACTION:
            return True
    return False


class ActionWelcomeBack(Action):
    """Welcome the customer back from an agent, repeat the agent's summary, ask for a rating."""

    def name(self) -> str:
        """The action's name in the domain."""
        return WELCOME_BACK_ACTION

    def run(  # sync: nothing here waits on I/O
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Send the one welcome-back message and mark the rating as requested."""
        summary = summary_for_customer(tracker.get_slot(SUMMARY_SLOT))
        if summary is None:
            dispatcher.utter_message(response="utter_welcome_back")
        else:
            dispatcher.utter_message(response="utter_welcome_back_with_summary", summary=summary)
        # A rating from an earlier hand back is cleared, so the slot only ever holds the
        # rating of the agent the customer has just been with.
        return [SlotSet(REQUESTED_SLOT, True), SlotSet(RATING_SLOT, None)]


class ActionRecordRating(Action):
    """Store the customer's rating, ask again once if it is unclear, or say nothing is due."""

    def name(self) -> str:
        """The action's name in the domain."""
        return RECORD_RATING_ACTION

    def run(  # sync: nothing here waits on I/O
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Thank the customer for their rating, or ask for it again, or offer help instead."""
        if not tracker.get_slot(REQUESTED_SLOT):
            dispatcher.utter_message(response="utter_nothing_to_rate")
            return []
        rating = parse_rating(tracker.latest_message.get("text") or "")
        if rating is not None:
            logger.info("satisfaction rating %d recorded", rating)
            dispatcher.utter_message(response="utter_rating_thanks", rating=rating)
            return [SlotSet(RATING_SLOT, float(rating)), SlotSet(REQUESTED_SLOT, False)]
        # Asking a second time would trap a customer who does not want to rate.
        if asked_again(tracker.events):
            dispatcher.utter_message(response="utter_rating_skipped")
            return [SlotSet(REQUESTED_SLOT, False)]
        dispatcher.utter_message(response="utter_ask_rating_again")
        return []

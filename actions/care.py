"""The customer is unhappy with us, wants to leave, wants to complain formally, is in money
trouble or reports fraud on their account: acknowledge it and hand over straight away.

One action for the five customer-care intents and report_fraud (``HAND_OVER_AT_ONCE_INTENTS``);
the intent picks the hint, and the hint picks the acknowledgement the customer reads and the
reason the handoff service gets.
"""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.attempted_steps import previous_steps
from actions.conversation import latest_intent
from actions.escalation import HAND_OVER_AT_ONCE_INTENTS, REQUEST_HUMAN, escalation_for_intent
from actions.handoff_signal import escalate

logger = logging.getLogger(__name__)


class ActionHandOverWithCare(Action):
    """Escalate with the hint of the intent; the payload carries the steps so far."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_hand_over_with_care"

    def run(  # sync: nothing here waits on I/O
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Acknowledge what the customer said, say a colleague takes over, send the signal."""
        reading = latest_intent(tracker)
        ours = reading.name in HAND_OVER_AT_ONCE_INTENTS
        hint = escalation_for_intent(reading.name) if ours else None
        if hint is None:
            # Only the rules of those intents run this action, so another intent means the
            # rules and this list disagree. The customer still reaches a person.
            logger.warning("%s ran after intent %r", self.name(), reading.name)
            hint = REQUEST_HUMAN
        # Like a request for a person, this is not a resolution step: nothing new is recorded.
        return escalate(dispatcher, hint, reading, previous_steps(tracker), [])

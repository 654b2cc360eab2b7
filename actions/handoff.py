"""The customer asks for a person: hand over straight away."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.attempted_steps import previous_steps
from actions.conversation import latest_intent
from actions.escalation import REQUEST_HUMAN
from actions.handoff_signal import escalate

logger = logging.getLogger(__name__)


class ActionRequestHuman(Action):
    """Escalate with ``request_human``; the payload carries everything tried so far."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_request_human"

    def run(  # sync: nothing here waits on I/O
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Tell the customer a colleague takes over and send the handoff signal."""
        # Asking for a person is not a resolution step, so nothing new is recorded; the
        # agent gets the steps of the conversation so far.
        return escalate(
            dispatcher, REQUEST_HUMAN, latest_intent(tracker), previous_steps(tracker), []
        )

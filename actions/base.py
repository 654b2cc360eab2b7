"""The shared shape of every action that looks at a customer's account.

An :class:`AccountAction` only implements :meth:`AccountAction.handle`; the base class does
the rest once for all of them:

* finds out who the customer is (message metadata, else the ``customer_id`` slot);
* answers anonymous or unknown customers with the topic's general guidance and a sign-in hint;
* runs ``handle`` in one bank transaction and sends its replies only after that transaction
  committed, so the customer is never told "I've frozen your card" when the write rolled back;
* turns any bank or SQLAlchemy error into an apology, a failed step and a ``bot_error`` handoff;
* records the attempted steps and escalates for the intents that always escalate.

``run`` is synchronous on purpose: rasa-sdk calls a sync ``run`` directly (see
``rasa_sdk.utils.call_potential_coroutine``), which lets actions use the plain sync SQLAlchemy
session. It blocks the action server's event loop for the length of the queries; the demo
bank's queries are a few indexed lookups on a local database, which is shorter than handing
the work to a thread would cost. A remote core-banking API would call for an async client.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.attempted_steps import AttemptedStep, Outcome, record_steps
from actions.bank_session import bank_session
from actions.clock import utc_now
from actions.conversation import (
    CustomerRef,
    IntentReading,
    customer_slot_events,
    identify_customer,
    latest_intent,
)
from actions.escalation import BOT_ERROR, EscalationHint, escalation_for_intent
from actions.handoff_signal import escalate
from demobank.exceptions import BankError, CustomerNotFound
from demobank.models import Customer
from demobank.queries import get_customer

logger = logging.getLogger(__name__)

SIGN_IN_RESPONSE = "utter_sign_in_for_details"


@dataclass(frozen=True)
class Reply:
    """A domain response to send, with its template values."""

    response: str
    values: Mapping[str, Any]


@dataclass
class Turn:
    """What :meth:`AccountAction.handle` works with, and what it produces, in one turn."""

    action_name: str
    intent: str
    now: datetime
    session: Session
    customer: Customer
    default_step: str
    replies: list[Reply] = field(default_factory=list)
    steps: list[AttemptedStep] = field(default_factory=list)

    def say(self, response: str, **values: Any) -> None:
        """Queue a domain response; it is sent once the bank transaction has committed."""
        self.replies.append(Reply(response, values))

    def record(self, outcome: Outcome, summary: str, *, step: str | None = None) -> None:
        """Record an attempted step (named after the action's step unless ``step`` is given)."""
        self.steps.append(
            AttemptedStep(
                action=self.action_name,
                step=step or self.default_step,
                outcome=outcome,
                summary=summary,
                at=self.now,
            )
        )


def general_response_for(intent: str) -> str:
    """The domain response with the general guidance on ``intent``'s topic.

    Intent names are Banking77's (``Refund_not_showing_up``, ``reverted_card_payment?``), so
    they are lower-cased and stripped to ``[a-z0-9_]`` to make a valid response name.
    """
    return "utter_general_" + re.sub(r"[^a-z0-9_]", "", intent.lower())


class AccountAction(Action, ABC):
    """Base class of the actions that answer from the customer's account.

    Subclasses set :attr:`intents` (the intents they serve; the first one is assumed when the
    action runs after any other intent) and :attr:`step` (the default step name), and
    implement :meth:`handle`.
    """

    intents: ClassVar[tuple[str, ...]]
    step: ClassVar[str]

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    @abstractmethod
    def handle(self, turn: Turn) -> None:
        """Look at the account, queue the replies and record the steps for ``turn.intent``."""

    def general_guidance_values(self) -> Mapping[str, Any]:
        """Template values for the general-guidance response (none by default)."""
        return {}

    def served_intent(self, reading: IntentReading) -> str:
        """The intent to answer: the latest one if this action serves it, else the default."""
        if reading.name in self.intents:
            return reading.name
        logger.info(
            "%s ran after intent %r; answering as %r", self.name(), reading.name, self.intents[0]
        )
        return self.intents[0]

    def run(  # sync on purpose, see the module docstring
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Answer the latest message from the customer's account (rasa-sdk entry point)."""
        reading = latest_intent(tracker)
        intent = self.served_intent(reading)
        ref = identify_customer(tracker)
        events = customer_slot_events(ref, tracker)
        now = utc_now()
        try:
            replies, turn_steps = self._answer(ref, intent, now)
        except (BankError, SQLAlchemyError) as exc:
            logger.exception("%s failed on a bank error", self.name())
            failed = AttemptedStep(
                action=self.name(),
                step=self.step,
                outcome=Outcome.FAILED,
                summary=f"{self.step.replace('_', ' ')} failed: bank systems unavailable "
                f"({type(exc).__name__})",
                at=now,
            )
            return events + self._close(dispatcher, tracker, reading, [failed], BOT_ERROR)
        for reply in replies:
            dispatcher.utter_message(response=reply.response, **reply.values)
        hint = escalation_for_intent(intent)
        return events + self._close(dispatcher, tracker, reading, turn_steps, hint)

    def _answer(
        self, ref: CustomerRef, intent: str, now: datetime
    ) -> tuple[list[Reply], list[AttemptedStep]]:
        if ref.customer_id is None:
            return self._general_guidance(intent, now, "customer is not signed in")
        with bank_session() as session:
            try:
                customer = get_customer(session, ref.customer_id)
            except CustomerNotFound:
                logger.info("%s: unknown customer id %r", self.name(), ref.customer_id)
                return self._general_guidance(intent, now, f"unknown customer id {ref.customer_id}")
            turn = Turn(
                action_name=self.name(),
                intent=intent,
                now=now,
                session=session,
                customer=customer,
                default_step=self.step,
            )
            self.handle(turn)
        return turn.replies, turn.steps

    def _general_guidance(
        self, intent: str, now: datetime, why: str
    ) -> tuple[list[Reply], list[AttemptedStep]]:
        replies = [
            Reply(general_response_for(intent), self.general_guidance_values()),
            Reply(SIGN_IN_RESPONSE, {}),
        ]
        step = AttemptedStep(
            action=self.name(),
            step=self.step,
            outcome=Outcome.NEEDS_SIGN_IN,
            summary=f"gave general guidance only: {why}",
            at=now,
        )
        return replies, [step]

    def _close(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        reading: IntentReading,
        turn_steps: list[AttemptedStep],
        hint: EscalationHint | None,
    ) -> list[EventType]:
        all_steps, events = record_steps(tracker, turn_steps)
        if hint is not None:
            events += escalate(dispatcher, hint, reading, all_steps, turn_steps)
        return events

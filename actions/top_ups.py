"""Top-up actions: pending, failed and reverted top-ups."""

from __future__ import annotations

import logging

from actions.attempted_steps import Outcome
from actions.base import AccountAction, Turn
from actions.formatting import age, day, money, reason_or_unknown, words
from demobank.models import TopUpMethod, TopUpStatus
from demobank.queries import latest_top_up

logger = logging.getLogger(__name__)

_WANTED = {
    "pending_top_up": TopUpStatus.PENDING,
    "top_up_failed": TopUpStatus.FAILED,
    "top_up_reverted": TopUpStatus.REVERTED,
}
# How long a pending top-up takes depends on how the money comes in.
_PENDING_RESPONSES = {
    TopUpMethod.CARD: "utter_top_up_pending_card",
    TopUpMethod.BANK_TRANSFER: "utter_top_up_pending_bank_transfer",
    TopUpMethod.CASH: "utter_top_up_pending_cash",
}


class ActionTopUpStatus(AccountAction):
    """Status of the customer's latest pending, failed or reverted top-up."""

    intents = ("pending_top_up", "top_up_failed", "top_up_reverted")
    step = "top_up_status"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_top_up_status"

    def handle(self, turn: Turn) -> None:
        """Report on the latest top-up in the state the customer asks about."""
        wanted = _WANTED[turn.intent]
        top_up = latest_top_up(turn.session, turn.customer.id, {wanted})
        if top_up is None:
            latest = latest_top_up(turn.session, turn.customer.id)
            if latest is None:
                turn.say("utter_no_top_ups")
                turn.record(Outcome.NOT_FOUND, "no top-ups on the account")
                return
            turn.say(
                "utter_top_up_none_with_status",
                wanted_status=words(wanted),
                top_up_id=latest.id,
                amount=money(latest.amount, latest.currency),
                status=words(latest.status),
            )
            turn.record(
                Outcome.NOT_FOUND,
                f"no {words(wanted)} top-up; latest {latest.id} is {words(latest.status)}",
            )
            return
        values = {
            "top_up_id": top_up.id,
            "amount": money(top_up.amount, top_up.currency),
            "method": words(top_up.method),
            "since": day(top_up.created_at),
            "age": age(top_up.created_at, turn.now),
            "date": day(top_up.created_at),
            "reason": reason_or_unknown(top_up.failure_reason),
        }
        if wanted is TopUpStatus.PENDING:
            turn.say(_PENDING_RESPONSES[top_up.method], **values)
        elif wanted is TopUpStatus.FAILED:
            turn.say("utter_top_up_failed", **values)
        else:
            turn.say("utter_top_up_reverted", **values)
        summary = f"looked up top-up {top_up.id}: {words(top_up.status)} since {values['age']}"
        if top_up.failure_reason:
            summary += f" ({top_up.failure_reason})"
        turn.record(Outcome.INFO, summary)

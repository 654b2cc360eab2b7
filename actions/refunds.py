"""Refund actions: where a merchant refund is, and how refunds work."""

from __future__ import annotations

import logging

from actions.attempted_steps import Outcome
from actions.base import AccountAction, Turn, general_response_for
from actions.formatting import day, money, words
from demobank.models import Refund, RefundStatus
from demobank.queries import OPEN_REFUND, latest_refund

logger = logging.getLogger(__name__)

_CLOSED_RESPONSES = {
    RefundStatus.COMPLETED: "utter_refund_completed",
    RefundStatus.REJECTED: "utter_refund_rejected",
}


class ActionRefundStatus(AccountAction):
    """Status of the customer's latest refund; for a new request, how refunds work first."""

    intents = ("Refund_not_showing_up", "request_refund")
    step = "refund_status"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_refund_status"

    def handle(self, turn: Turn) -> None:
        """Explain refunds (request_refund) and report the relevant refund."""
        if turn.intent == "request_refund":
            # Refunds are issued by the merchant, so the general explanation is the answer;
            # a refund already under way is added because it is usually what prompted this.
            turn.say(general_response_for("request_refund"))
            refund = latest_refund(turn.session, turn.customer.id, OPEN_REFUND)
            if refund is None:
                turn.record(Outcome.INFO, "explained how refunds work; no refund in progress")
                return
            self._report(turn, refund, prefix="explained how refunds work; ")
            return
        refund = latest_refund(turn.session, turn.customer.id)
        if refund is None:
            turn.say("utter_refund_none")
            turn.record(Outcome.NOT_FOUND, "no refunds on the account")
            return
        self._report(turn, refund)

    def _report(self, turn: Turn, refund: Refund, prefix: str = "") -> None:
        values = {
            "refund_id": refund.id,
            "merchant": refund.merchant,
            "amount": money(refund.amount, refund.currency),
            "status": words(refund.status),
            "requested_on": day(refund.requested_at),
            "expected_by": day(refund.expected_by),
        }
        if refund.status in OPEN_REFUND:
            overdue = turn.now > refund.expected_by
            turn.say("utter_refund_overdue" if overdue else "utter_refund_in_progress", **values)
            detail = (
                f"overdue since {values['expected_by']}"
                if overdue
                else (f"expected by {values['expected_by']}")
            )
        else:
            turn.say(_CLOSED_RESPONSES[refund.status], **values)
            detail = f"requested {values['requested_on']}"
        turn.record(
            Outcome.INFO,
            f"{prefix}looked up refund {refund.id} from {refund.merchant}: "
            f"{words(refund.status)}, {detail}",
        )
